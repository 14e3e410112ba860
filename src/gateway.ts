// Assembles a running gateway from a config: store, first-start credentials, providers and catalog,
// the authenticator and the HTTP app. `floodgate serve` and the integration tests both start it here.
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/load.js';
import { bootstrapStore, resolvePepper } from './auth/bootstrap.js';
import { warmTokenizer } from './accounting/tokenizer.js';
import { Authenticator, type KeyLookup } from './http/auth.js';
import { buildApp } from './http/app.js';
import { VideoJobRunner } from './api/videos.js';
import { trackConnections } from './http/drain.js';
import { createLogger, type Logger } from './observability/logger.js';
import { buildCatalog } from './routing/catalog.js';
import { openStore } from './store/database.js';
import type { Store } from './store/store.js';
import { MemoryBalanceBook } from './accounting/balance-book.js';
import type { Accounting } from './accounting/settlement.js';
import { UsageWriter } from './accounting/usage-writer.js';
import { openUsageSink } from './accounting/usage-sink.js';
import { MemoryLimiter } from './limits/memory-limiter.js';
import { limitScopes } from './limits/scopes.js';

export interface Gateway {
  app: FastifyInstance;
  store: Store;
  accounting: Accounting;
  /** `http://host:port` */
  url: string;
  port: number;
  /** Credentials created by this start (first start only): print them once. */
  firstStart: { apiKey?: string; adminToken?: string };
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
}

function keyLookup(store: Store): KeyLookup {
  return async (hash) => {
    const found = await store.keys.findKeyByHash(hash);
    if (found === undefined) return undefined;
    return {
      keyId: found.key.id,
      accountId: found.account.id,
      expiresAt: found.key.expiresAt,
      disabled: found.key.disabledAt !== null,
      accountDisabled: found.account.status !== 'active',
      allowedModels: found.key.allowedModels,
      tier: found.account.tier,
      accountLimits: found.account.limits,
      keyLimits: found.key.limits,
    };
  };
}

export async function startGateway(config: Config, options: StartOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logging.level);
  const store = await openStore({ url: config.storeUrl });
  const pepper = resolvePepper(config);
  const firstStart = await bootstrapStore(store, config, pepper);
  const catalog = buildCatalog(config);
  // Loading the tokenizer takes ~0.4 s of blocked event loop: do it now, not on the first request that
  // has to count tokens itself (a backend without usage, a client that disconnects mid-stream).
  warmTokenizer();
  const authenticator = new Authenticator(pepper, config.auth.keyPrefix, keyLookup(store), config.auth.keyCacheMs, (identity) =>
    limitScopes(config.limits, {
      accountId: identity.accountId,
      tier: identity.tier,
      accountOverrides: identity.accountLimits,
      keyId: identity.keyId,
      keyOverrides: identity.keyLimits,
    }),
  );
  const book = new MemoryBalanceBook((ids) => store.accounts.balances(ids));
  const accounting: Accounting = {
    limiter: new MemoryLimiter(),
    book,
    usage: new UsageWriter(await openUsageSink(config.storeUrl, store.usage, logger), book, config.usage, logger),
  };
  const admin = {
    store,
    config,
    catalog,
    pepper,
    events: {
      identitiesChanged: () => authenticator.forgetAll(),
      balanceChanged: (accountId: string) => void book.refresh(accountId),
    },
  };
  const videoRunner = new VideoJobRunner(store, catalog, book, logger);
  const app = buildApp({ config, catalog, authenticator, logger, pingStore: () => store.ping(), admin, accounting, store, videoRunner });
  const closeAccounting = async () => {
    // After the HTTP server has drained: every request has settled, so everything is in the writer's queue.
    await accounting.usage.close();
    await accounting.limiter.close();
    await book.close();
  };
  const drain = trackConnections(app.server);
  try {
    await app.listen({ host: config.server.host, port: config.server.port });
  } catch (err) {
    await closeAccounting();
    await catalog.close();
    await store.close();
    throw err;
  }
  videoRunner.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  return {
    app,
    store,
    accounting,
    url: `http://${host}:${port}`,
    port,
    firstStart,
    async close() {
      drain.begin();
      await app.close();
      await videoRunner.stop();
      await closeAccounting();
      authenticator.close();
      await catalog.close();
      await store.close();
      logger.flush();
    },
  };
}
