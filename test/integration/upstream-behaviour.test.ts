// How the gateway carries a backend's behaviour to the client: heartbeats over slow streams,
// back-pressure from a slow reader, and the backend's own errors mapped per SPEC §6.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { rawRequest, startFakeUpstream, startTestGateway, testConfig, type FakeUpstream, type TestGateway, PASS_THROUGH_ROUTING } from '../helpers/gateway.js';

let upstream: FakeUpstream;
let gw: TestGateway;
let floodWritten = 0;
let floodBlocked = false;

const chunk = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'u', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

beforeAll(async () => {
  upstream = await startFakeUpstream((req, res) => {
    const what = (req.body.messages as { content: string }[])[0].content;
    switch (what) {
      case 'slow': {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk('first'));
        setTimeout(() => {
          res.write(chunk(' last', 'stop'));
          res.end('data: [DONE]\n\n');
        }, 450);
        return;
      }
      case 'flood': {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const piece = chunk('x'.repeat(16 * 1024));
        const pump = (): void => {
          while (floodWritten < 256 * 1024 * 1024) {
            floodWritten += piece.length;
            if (!res.write(piece)) {
              floodBlocked = true;
              res.once('drain', pump);
              return;
            }
          }
          res.end('data: [DONE]\n\n');
        };
        res.on('close', () => res.removeAllListeners('drain'));
        pump();
        return;
      }
      case 'overloaded':
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '7' });
        res.end(JSON.stringify({ error: { message: 'busy', type: 'server_error' } }));
        return;
      case 'context':
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'error', message: "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.", type: 'BadRequestError', code: 400 }));
        return;
      case 'badreq':
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'top_k must be positive', type: 'invalid_request_error', param: 'top_k' } }));
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('<html>oops</html>');
        return;
      default:
        res.writeHead(500);
        res.end();
    }
  });
  const config = testConfig();
  config.server = { ...config.server, heartbeat_ms: 100, cors: { origins: ['https://app.example.com'] } };
  config.providers = { up: { type: 'openai', base_url: `${upstream.url}/v1` } };
  config.models = [{ id: 'up', category: 'text', deployments: [{ provider: 'up' }] }];
  config.routing = PASS_THROUGH_ROUTING;
  gw = await startTestGateway(config);
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

function ask(content: string, stream = false) {
  return rawRequest(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.apiKey}` },
    json: { model: 'up', messages: [{ role: 'user', content }], stream },
  });
}

describe('streams', () => {
  it('sends comment heartbeats while the backend is silent', async () => {
    const res = await ask('slow', true);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^: keep-alive$/m);
    expect(res.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('stops reading the backend while the client does not read (back-pressure)', async () => {
    const res = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'up', messages: [{ role: 'user', content: 'flood' }], stream: true }),
    });
    expect(res.statusCode).toBe(200);
    // Do not read for a while: everything in flight must fit in socket buffers, not in gateway memory.
    await new Promise((r) => setTimeout(r, 600));
    expect(floodBlocked).toBe(true);
    expect(floodWritten).toBeLessThan(32 * 1024 * 1024);
    res.body.destroy();
  });
});

describe("the backend's errors", () => {
  it('maps a backend 503 to 503 model_unavailable with its Retry-After', async () => {
    const res = await ask('overloaded');
    expect(res.status).toBe(503);
    expect(res.json().error).toMatchObject({ type: 'service_unavailable', code: 'model_unavailable' });
    expect(res.headers.get('retry-after')).toBe('7');
    expect(res.headers.get('retry-after-ms')).toBe('7000');
  });

  it('passes a backend 400 on, and maps a context-length complaint to context_length_exceeded', async () => {
    const bad = await ask('badreq');
    expect(bad.status).toBe(400);
    expect(bad.json().error).toEqual({ message: 'top_k must be positive', type: 'invalid_request_error', param: 'top_k', code: null });
    const ctx = await ask('context');
    expect(ctx.status).toBe(400);
    expect(ctx.json().error).toMatchObject({ type: 'invalid_request_error', code: 'context_length_exceeded' });
    expect(ctx.json().error.message).toContain('maximum context length');
  });

  it('answers 502 for garbage and for a bare 500', async () => {
    const garbage = await ask('garbage');
    expect(garbage.status).toBe(502);
    expect(garbage.json().error.code).toBe('upstream_error');
    const broken = await ask('anything else');
    expect(broken.status).toBe(502);
  });
});

describe('CORS when configured', () => {
  it('grants listed origins and no others', async () => {
    const listed = await rawRequest(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.apiKey}`, origin: 'https://app.example.com' } });
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(listed.headers.get('access-control-expose-headers')).toContain('x-request-id');
    const preflight = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    const other = await rawRequest(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.apiKey}`, origin: 'https://other.example.com' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
