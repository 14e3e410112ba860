// Assembles a running gateway from a config: store, first-start credentials, providers and catalog,
// the authenticator and the HTTP app. `floodgate serve` and the integration tests both start it here.
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/load.js';
import { bootstrapStore, resolvePepper } from './auth/bootstrap.js';
import { warmTokenizer } from './accounting/tokenizer.js';
import { Authenticator, type KeyLookup } from './http/auth.js';
import { buildApp } from './http/app.js';
import { VideoJobRunner } from './api/videos.js';
import { drainServer, RequestDrain, ServerConnections } from './http/drain.js';
import { createLogger, type Logger } from './observability/logger.js';
import { addSecretPrefixes } from './observability/redact.js';
import { buildCatalog } from './routing/catalog.js';
import { openStore } from './store/database.js';
import type { Store } from './store/store.js';
import { MemoryBalanceBook, type BalanceBook } from './accounting/balance-book.js';
import type { Accounting } from './accounting/settlement.js';
import { bookLoader, creditsLoader } from './accounting/budgets.js';
import { SpendAlerts } from './accounting/spend-alerts.js';
import { UsageWriter } from './accounting/usage-writer.js';
import { openUsageSink } from './accounting/usage-sink.js';
import { MemoryLimiter } from './limits/memory-limiter.js';
import { limitScopes } from './limits/scopes.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import { NO_ALERTS, type AlertSink } from './alerts/events.js';

export interface Gateway {
  app: FastifyInstance;
  store: Store;
  accounting: Accounting;
  /** Prometheus metrics; served on `config.metrics.path` unless `metrics.enabled` is false. */
  metrics: GatewayMetrics;
  /** Where budget, balance and breaker events go: the webhooks of `alerts`, or NO_ALERTS when none is configured. */
  alerts: AlertSink;
  /** `http://host:port` */
  url: string;
  port: number;
  /** Credentials created by this start (first start only): print them once. */
  firstStart: { apiKey?: string; adminToken?: string };
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** A `serve --workers N` worker: /metrics answers for every worker (the primary runs `serveClusterMetrics`, metrics/cluster.ts). */
  clusterMetrics?: boolean;
  /** The portal's built front end (default dist/web): tests serve their own. */
  portalWebRoot?: string;
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
      billing: found.account.billing,
      budgets: found.budgets,
    };
  };
}

export async function startGateway(config: Config, options: StartOptions = {}): Promise<Gateway> {
  // Keys of the configured form are masked in every log line, whatever their prefix.
  addSecretPrefixes([config.auth.keyPrefix]);
  const logger = options.logger ?? createLogger(config.logging.level);
  // First, so that every part can count its failures (store, Redis, usage writes).
  const metrics = new GatewayMetrics({ processMetrics: config.metrics.enabled });
  if (options.clusterMetrics && config.metrics.enabled) metrics.shareWithCluster();
  const store = await openStore({
    url: config.storeUrl,
    poolSize: config.storePoolSize,
    // A broken pooled connection is replaced by the pool; it is worth a line in the log, not a crash.
    onConnectionError: (err) => {
      metrics.storeError('connection');
      logger.warn({ err }, 'store connection lost; the pool opens another');
    },
  });
  /** A store read whose failure is counted in floodgate_store_errors_total{operation}. */
  const counted =
    <A extends unknown[], R>(read: (...args: A) => Promise<R>, operation: string) =>
    (...args: A): Promise<R> =>
      read(...args).catch((err: unknown) => {
        metrics.storeError(operation);
        throw err;
      });
  const pepper = resolvePepper(config);
  // A refused start (another pepper) must not leave the store's pool holding the process open.
  const firstStart = await bootstrapStore(store, config, pepper, (message) => logger.warn(message)).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const catalog = buildCatalog(config);
  // Loading the tokenizer's tables takes ~50 ms of blocked event loop: do it now, not on the first request that
  // has to count tokens itself (a backend without usage, a client that disconnects mid-stream).
  warmTokenizer();
  const authenticator = new Authenticator(pepper, config.auth.keyPrefix, counted(keyLookup(store), 'key_lookup'), config.auth.keyCacheMs, (identity) =>
    limitScopes(config.limits, {
      accountId: identity.accountId,
      tier: identity.tier,
      accountOverrides: identity.accountLimits,
      keyId: identity.keyId,
      keyOverrides: identity.keyLimits,
    }),
    (identity) => identity.billing ?? config.billing.tiers[identity.tier] ?? config.billing.mode,
  );
  if (!config.storeUrl.startsWith('sqlite:')) {
    // A shared store is for several instances; they must hash keys alike and share their limits.
    if (config.auth.pepper === undefined) logger.warn('auth.pepper is not set: it is generated in this instance\'s data_dir, and keys made by an instance with another pepper will not verify here; set the same auth.pepper on every instance');
    if (config.redis === null) logger.warn('redis.url is not set: rate limits, concurrency slots and balance reservations hold per instance, not across instances');
  }
  // Scale-out (redis.url): limits, reservations and the change broadcast are shared through Redis.
  // Its modules (ioredis among them) are loaded only when redis.url is set: with pg, ~4 MB of resident
  // memory an embedded gateway does not carry.
  const shared = config.redis
    ? await (await import('./redis/shared-state.js')).openSharedState(
        config.redis,
        counted(creditsLoader(store.accounts, store.budgets), 'balance_read'),
        logger,
        (event) => {
          if (event.type === 'identities') authenticator.forgetAll();
          else if (event.type === 'breaker') catalog.health.heard(event.deployment, event.state, event.openMs);
        },
        (operation, policy) => metrics.redisFailure(operation, policy),
      )
    : undefined;
  // Webhook alerts: without webhooks nothing of them is loaded or made (NO_ALERTS), and detection skips its work.
  const webhooks =
    config.alerts.webhooks.length === 0
      ? undefined
      : (await import('./alerts/webhooks.js')).createWebhookSink(config.alerts, { logger, metrics, claimOnce: shared && ((key, ttlMs, operation) => shared.claimOnce(key, ttlMs, operation)) });
  const alerts: AlertSink = webhooks ?? NO_ALERTS;
  const breakerAlerts = webhooks && (await import('./alerts/breaker.js')).breakerAlerts(webhooks, catalog);
  // A breaker opened or closed by this instance's outcomes is news for the others, and for the webhooks.
  if (shared || breakerAlerts) {
    catalog.health.onTransition = (deployment, state, openMs) => {
      shared?.events.publish({ type: 'breaker', deployment, state, openMs });
      breakerAlerts?.(deployment, state, openMs);
    };
  }
  const book: BalanceBook = shared?.book ?? new MemoryBalanceBook(counted(bookLoader(store.accounts, store.budgets), 'balance_read'));
  const accounting: Accounting = {
    limiter: shared?.limiter ?? new MemoryLimiter(),
    book,
    admit: shared?.admit,
    usage: new UsageWriter(await openUsageSink(config.storeUrl, store.usage, logger), book, config.usage, logger),
  };
  accounting.usage.onWriteFailure = () => metrics.usageWriteFailed();
  // Budget and balance crossings, read from the store after each usage batch (only when a webhook listens).
  const spendAlerts = webhooks && new SpendAlerts(alerts, store, config.alerts.balanceLowMicros, logger);
  if (spendAlerts) {
    accounting.budgetRefused = (budget, span, accountId, available) => spendAlerts.budgetRefused(budget, span, accountId, available);
    accounting.usage.onCommitted = (batch) => spendAlerts.committed(batch);
  }
  metrics.watch({ health: catalog.health, usageQueueDepth: () => accounting.usage.depth });
  const pingStore = counted(() => store.ping(), 'ping');
  const admin = {
    store,
    config,
    catalog,
    pepper,
    events: {
      identitiesChanged: () => {
        authenticator.forgetAll();
        shared?.events.publish({ type: 'identities' });
      },
      balanceChanged: (accountId: string) => void book.refresh(accountId).catch((err: unknown) => logger.warn({ err, account_id: accountId }, 'balance not re-read after a ledger entry')),
    },
  };
  const videoRunner = new VideoJobRunner(store, catalog, book, logger, 500, shared && (() => shared.claim('video-runner', 5000)));
  const requests = new RequestDrain();
  const connections = new ServerConnections(config.server, logger, (reason) => metrics.connectionDropped(reason));
  // Off unless configured: then no tracer exists, and the OpenTelemetry packages are not even loaded.
  const tracing = config.tracing === null ? undefined : new (await import('./observability/tracing.js')).Tracing(config.tracing);
  const app = buildApp({
    config,
    catalog,
    authenticator,
    logger,
    pingStore,
    admin,
    accounting,
    store,
    videoRunner,
    drain: requests,
    connections,
    metrics: config.metrics.enabled ? metrics : undefined,
    portalWebRoot: options.portalWebRoot,
    tracing,
  });
  const closeAccounting = async () => {
    // After the HTTP server has drained: every request has settled, so everything is in the writer's queue.
    await accounting.usage.close();
    // The accounting's last events are queued: up to 2 s to deliver them (their Redis claims still answered),
    // then the rest is dropped and counted. A start that failed closed it at once already.
    await spendAlerts?.idle();
    await webhooks?.close(2000);
    if (shared) await shared.close();
    else {
      await accounting.limiter.close();
      await book.close();
    }
  };
  try {
    await app.listen({ host: config.server.host, port: config.server.port });
  } catch (err) {
    await tracing?.shutdown().catch(() => undefined);
    await webhooks?.close(0);
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
    metrics,
    alerts,
    url: `http://${host}:${port}`,
    port,
    firstStart,
    async close() {
      // Stops accepting, lets requests run up to the grace period, then cuts them; all have settled after it.
      await drainServer(app.server, () => app.close(), requests, connections, config.server.shutdownGraceMs, logger);
      await videoRunner.stop();
      await closeAccounting();
      authenticator.close();
      metrics.close();
      // Every request has ended: their spans are exported before the process goes.
      await tracing?.shutdown().catch((err: unknown) => logger.warn({ err }, 'traces not exported at shutdown'));
      await catalog.close();
      await store.close();
      logger.flush();
    },
  };
}
