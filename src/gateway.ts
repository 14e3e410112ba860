// Assembles a running gateway from a config: store, first-start credentials, providers and catalog,
// the authenticator and the HTTP app. `floodgate serve` and the integration tests both start it here.
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/load.js';
import { bootstrapStore, resolvePepper } from './auth/bootstrap.js';
import { warmTokenizer } from './accounting/tokenizer.js';
import { Authenticator, type KeyLookup } from './http/auth.js';
import { buildApp } from './http/app.js';
import { createLogger, type Logger } from './observability/logger.js';
import { buildCatalog } from './routing/catalog.js';
import { openStore } from './store/database.js';
import type { Store } from './store/store.js';

export interface Gateway {
  app: FastifyInstance;
  store: Store;
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
  const authenticator = new Authenticator(pepper, config.auth.keyPrefix, keyLookup(store), config.auth.keyCacheMs);
  const admin = {
    store,
    config,
    pepper,
    events: {
      identitiesChanged: () => authenticator.forgetAll(),
      balanceChanged: (_accountId: string) => undefined,
    },
  };
  const app = buildApp({ config, catalog, authenticator, logger, pingStore: () => store.ping(), admin });
  try {
    await app.listen({ host: config.server.host, port: config.server.port });
  } catch (err) {
    await catalog.close();
    await store.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  return {
    app,
    store,
    url: `http://${host}:${port}`,
    port,
    firstStart,
    async close() {
      await app.close();
      authenticator.close();
      await catalog.close();
      await store.close();
      logger.flush();
    },
  };
}
