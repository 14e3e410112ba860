// The bare pass-through (SPEC §15): Fastify + undici forwarding the request and the response with no
// feature at all — the floor for any Node gateway on this machine. Run by the benchmark as its own process.
import Fastify from 'fastify';
import { Pool } from 'undici';

const upstream = process.argv[process.argv.indexOf('--upstream') + 1];
const port = Number(process.argv[process.argv.indexOf('--port') + 1] ?? 0);
const pool = new Pool(upstream, { connections: null, keepAliveTimeout: 30_000 });
const app = Fastify();
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

app.post('/v1/*', async (request, reply) => {
  const res = await pool.request({
    method: 'POST',
    path: request.url,
    headers: { 'content-type': 'application/json', authorization: request.headers.authorization ?? '' },
    body: request.body as Buffer,
  });
  return reply.code(res.statusCode).header('content-type', String(res.headers['content-type'] ?? 'application/json')).send(res.body);
});

await app.listen({ host: '127.0.0.1', port });
const address = app.server.address();
process.stdout.write(`Passthrough listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}\n`);
const stop = (): void => void app.close().then(() => pool.close()).then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
