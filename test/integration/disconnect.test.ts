// A client that goes away mid-stream aborts the backend request at once (SPEC §5).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeUpstream, startTestGateway, testConfig, type FakeUpstream, type TestGateway } from '../helpers/gateway.js';

let upstream: FakeUpstream;
let gw: TestGateway;
let upstreamClosedAt: number | undefined;

beforeAll(async () => {
  upstream = await startFakeUpstream((_req, res, raw) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let n = 0;
    const timer = setInterval(() => {
      res.write(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: `t${n++} ` }, finish_reason: null }] })}\n\n`);
    }, 10);
    raw.socket.once('close', () => {
      upstreamClosedAt = performance.now();
      clearInterval(timer);
    });
  });
  const config = testConfig();
  config.providers = { slow: { type: 'openai', base_url: `${upstream.url}/v1` }, hung: { type: 'simulator', faults: { hang: true } } };
  config.models = [
    { id: 'slow', category: 'text', deployments: [{ provider: 'slow' }] },
    { id: 'hung', category: 'text', deployments: [{ provider: 'hung' }] },
  ];
  gw = await startTestGateway(config);
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

describe('client disconnect', () => {
  it('aborts the upstream request within 100 ms and logs the request as client_disconnected', async () => {
    const controller = new AbortController();
    const res = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'slow', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      signal: controller.signal,
    });
    expect(res.statusCode).toBe(200);
    let received = 0;
    let abortedAt = 0;
    try {
      for await (const data of res.body) {
        received += (data as Buffer).length;
        if (received > 300) {
          abortedAt = performance.now();
          controller.abort();
        }
      }
    } catch {
      // the abort surfaces here
    }
    expect(abortedAt).toBeGreaterThan(0);
    for (let i = 0; i < 50 && upstreamClosedAt === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    expect(upstreamClosedAt).toBeDefined();
    expect(upstreamClosedAt! - abortedAt).toBeLessThan(100);
    await new Promise((r) => setTimeout(r, 50));
    const line = gw.logs.filter((l) => l.msg === 'request' && l.model === 'slow').at(-1);
    expect(line).toMatchObject({ settle: 'client_disconnected', client_aborted: true });
    expect(line!.completion_tokens).toBeGreaterThan(0);
  });

  it('records a client that leaves before the first byte, with its prompt, and answers nothing', async () => {
    for (const stream of [true, false]) {
      const controller = new AbortController();
      const pending = request(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'hung', messages: [{ role: 'user', content: 'are you there?' }], stream }),
        signal: controller.signal,
      });
      await new Promise((r) => setTimeout(r, 100));
      controller.abort();
      await expect(pending).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 50));
      const line = gw.logs.filter((l) => l.msg === 'request' && l.model === 'hung').at(-1);
      expect(line).toMatchObject({ settle: 'client_disconnected', client_aborted: true, stream, completion_tokens: 0 });
      expect(line!.prompt_tokens).toBeGreaterThan(0);
    }
    // The gateway is still serving.
    const health = await fetch(`${gw.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
