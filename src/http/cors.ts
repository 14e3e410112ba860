// CORS (SPEC §3): the API is for servers, so no grant unless the config lists the origin (or "*").
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CorsConfig } from '../config/load.js';

const EXPOSED = 'x-request-id, openai-processing-ms, retry-after, retry-after-ms, x-should-retry, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens, x-floodgate-budget-remaining';

function allowedOrigin(cors: CorsConfig | null, origin: string | undefined): string | undefined {
  if (cors === null || origin === undefined) return undefined;
  return cors.origins.includes(origin) || cors.origins.includes('*') ? origin : undefined;
}

export function applyCors(cors: CorsConfig | null, request: FastifyRequest, reply: FastifyReply): void {
  if (cors === null) return;
  const origin = allowedOrigin(cors, request.headers.origin);
  reply.header('vary', 'Origin');
  if (origin === undefined) return;
  reply.header('access-control-allow-origin', origin);
  reply.header('access-control-expose-headers', EXPOSED);
}

/** A preflight: granted for listed origins, answered without any grant otherwise. */
export function handlePreflight(cors: CorsConfig | null, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const origin = allowedOrigin(cors, request.headers.origin);
  if (origin !== undefined && cors !== null) {
    reply.header('access-control-allow-methods', 'GET, POST, OPTIONS');
    const requested = request.headers['access-control-request-headers'];
    reply.header('access-control-allow-headers', typeof requested === 'string' && requested.length < 1024 ? requested : 'authorization, content-type, x-request-id');
    reply.header('access-control-max-age', String(cors.maxAgeS));
  }
  return reply.code(204).send();
}
