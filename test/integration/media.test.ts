// The media endpoints end to end (SPEC §2): images, speech, transcriptions and video jobs, through the
// official openai SDK where it has the endpoint and raw HTTP otherwise; against the in-process simulator
// (the embedded default's models) and a standalone simulator process behind an `openai` provider.
import { request as httpRequest } from 'node:http';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { inflateSync } from 'node:zlib';
import { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawConfig } from '../../src/config/schema.js';
import { rawRequest, spawnSimulator, startTestGateway, testConfig, type ChildServer, type TestAccount, type TestGateway } from '../helpers/gateway.js';

type Any = Record<string, any>;

let sim: ChildServer;
let gw: TestGateway;
let account: TestAccount;

function config(): RawConfig {
  const c = testConfig();
  c.providers = { ...c.providers, remote: { type: 'openai', base_url: `${sim.url}/v1` } };
  const copies = c.models.filter((m) => ['image', 'audio', 'video'].includes(m.category)).map((m) => ({ ...m, id: m.id.replace('sim-', 'remote-'), deployments: [{ provider: 'remote', model: m.id }] }));
  c.models = [...c.models, ...copies];
  return c;
}

function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  expect(png.toString('latin1', 12, 16)).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

async function post(path: string, json: unknown, key = account.apiKey) {
  return rawRequest(`${gw.url}/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, json });
}

/** The account's usage records, newest first, once at least `atLeast` are written (settlement follows the response's end). */
async function records(atLeast: number) {
  for (let i = 0; ; i++) {
    await gw.flushUsage();
    const list = await gw.gateway.store.usage.list({ accountId: account.accountId }, { limit: 100 });
    if (list.length >= atLeast || i === 50) return list;
    await new Promise((r) => setTimeout(r, 20));
  }
}
/** How many usage records the account has, once everything settled so far is written. */
async function mark(): Promise<number> {
  return (await records(0)).length;
}

/** The `count` records written after `before` (from mark()), newest first. */
async function since(before: number, count: number) {
  const list = await records(before + count);
  expect(list.length).toBe(before + count);
  return list.slice(0, count);
}

beforeAll(async () => {
  sim = await spawnSimulator(['--video-ms', '300']);
  gw = await startTestGateway(config());
  account = await gw.createAccount({ creditMicros: 10_000_000 });
}, 30_000);

afterAll(async () => {
  await gw?.close();
  await sim?.stop();
});

describe('images', () => {
  for (const model of ['sim-image', 'remote-image']) {
    it(`${model}: the SDK gets b64_json PNGs of the requested size, billed per image`, async () => {
      const before = await mark();
      const res = await account.client.images.generate({ model, prompt: 'a lighthouse at dusk', size: '256x256', n: 2 });
      expect(res.data).toHaveLength(2);
      for (const image of res.data!) {
        const png = Buffer.from(image.b64_json!, 'base64');
        expect(pngSize(png)).toEqual({ width: 256, height: 256 });
        expect(image.url).toBeUndefined();
      }
      // Different images for different indexes, the same for the same request.
      expect(res.data![0].b64_json).not.toBe(res.data![1].b64_json);
      const [record] = await since(before, 1);
      expect(record).toMatchObject({ endpoint: 'images', model, mediaUnit: 'image', mediaUnits: 2, costMicros: 40_000, status: 200 });
    });
  }

  it('decodes: the IDAT inflates to the picture rows', async () => {
    const res = await account.client.images.generate({ model: 'sim-image', prompt: 'x', size: '512x512' });
    const png = Buffer.from(res.data![0].b64_json!, 'base64');
    const idat = png.indexOf('IDAT');
    const length = png.readUInt32BE(idat - 4);
    expect(inflateSync(png.subarray(idat + 4, idat + 4 + length)).length).toBe(512 * (1 + 3 * 512));
  });

  it('refuses response_format "url" with the field named', async () => {
    const res = await post('/images/generations', { model: 'sim-image', prompt: 'x', response_format: 'url' });
    expect(res.status).toBe(400);
    expect(res.json().error).toMatchObject({ type: 'invalid_request_error', param: 'response_format' });
    expect(res.json().error.message).toMatch(/b64_json/);
  });

  it('names the field of every bad input', async () => {
    const cases: [unknown, string | null][] = [
      [{ model: 'sim-image' }, 'prompt'],
      [{ model: 'sim-image', prompt: 5 }, 'prompt'],
      [{ prompt: 'x' }, 'model'],
      [{ model: 'sim-image', prompt: 'x', n: 0 }, 'n'],
      [{ model: 'sim-image', prompt: 'x', n: 11 }, 'n'],
      [{ model: 'sim-image', prompt: 'x', size: 'huge' }, 'size'],
      [{ model: 'sim-image', prompt: 'x', size: '300x300' }, 'size'],
      [{ model: 'sim-chat', prompt: 'x' }, 'model'],
      [[1, 2], null],
    ];
    for (const [body, param] of cases) {
      const res = await post('/images/generations', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json().error.param, JSON.stringify(body)).toBe(param);
    }
    const wrongType = await rawRequest(`${gw.url}/v1/images/generations`, { method: 'POST', headers: { authorization: `Bearer ${account.apiKey}`, 'content-type': 'text/plain' }, body: 'x' });
    expect(wrongType.status).toBe(415);
  });
});

describe('speech', () => {
  for (const model of ['sim-tts', 'remote-tts']) {
    it(`${model}: audio.speech.create returns a WAV (header checked), billed per character`, async () => {
      const before = await mark();
      const res = await account.client.audio.speech.create({ model, voice: 'alloy', input: 'Hello there, world.', response_format: 'wav' });
      expect(res.headers.get('content-type')).toBe('audio/wav');
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe('600');
      expect(res.headers.get('x-request-id')).toMatch(/^req_/);
      const wav = Buffer.from(await res.arrayBuffer());
      expect(wav.toString('latin1', 0, 4)).toBe('RIFF');
      expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
      expect(wav.toString('latin1', 8, 16)).toBe('WAVEfmt ');
      expect(wav.readUInt16LE(20)).toBe(1); // PCM
      expect(wav.readUInt16LE(22)).toBe(1); // mono
      expect(wav.readUInt32LE(24)).toBe(24_000);
      expect(wav.readUInt16LE(34)).toBe(16);
      const [record] = await since(before, 1);
      expect(record).toMatchObject({ endpoint: 'speech', model, mediaUnit: 'character', mediaUnits: 19, costMicros: Math.ceil(19 * 15) });
    });
  }

  it('returns raw PCM, and WAV by the model default when no format is asked', async () => {
    const pcm = Buffer.from(await (await account.client.audio.speech.create({ model: 'sim-tts', voice: 'echo', input: 'abc', response_format: 'pcm' })).arrayBuffer());
    const wav = await account.client.audio.speech.create({ model: 'sim-tts', voice: 'echo', input: 'abc' });
    expect(wav.headers.get('content-type')).toBe('audio/wav');
    const wavBytes = Buffer.from(await wav.arrayBuffer());
    expect(wavBytes.subarray(44, 44 + pcm.length).equals(pcm)).toBe(true);
  });

  it('names the field of every bad input: unknown voice, a format the model cannot make, …', async () => {
    const cases: [unknown, string][] = [
      [{ model: 'sim-tts', voice: 'nobody', input: 'x' }, 'voice'],
      [{ model: 'sim-tts', voice: 'alloy', input: 'x', response_format: 'mp3' }, 'response_format'],
      [{ model: 'sim-tts', voice: 'alloy', input: 'x', response_format: 'ogg' }, 'response_format'],
      [{ model: 'sim-tts', voice: 'alloy' }, 'input'],
      [{ model: 'sim-tts', voice: 'alloy', input: '' }, 'input'],
      [{ model: 'sim-tts', input: 'x' }, 'voice'],
      [{ model: 'sim-tts', voice: 'alloy', input: 'x', speed: 5 }, 'speed'],
      [{ model: 'sim-tts', voice: 'alloy', input: 'x', speed: 'fast' }, 'speed'],
      [{ model: 'sim-whisper', voice: 'alloy', input: 'x' }, 'model'],
    ];
    for (const [body, param] of cases) {
      const res = await post('/audio/speech', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json().error.param, JSON.stringify(body)).toBe(param);
    }
  });
});

describe('transcriptions', () => {
  let speech: Buffer;
  const said = 'The quick brown fox jumps over the lazy dog. It was a bright cold day in April.';

  beforeAll(async () => {
    speech = Buffer.from(await (await account.client.audio.speech.create({ model: 'sim-tts', voice: 'nova', input: said, response_format: 'wav' })).arrayBuffer());
  });

  for (const model of ['sim-whisper', 'remote-whisper']) {
    it(`${model}: audio.transcriptions.create with a WAV gives the transcript in each response_format`, async () => {
      const before = await mark();
      const file = () => toFile(speech, 'speech.wav', { type: 'audio/wav' });
      const json = await account.client.audio.transcriptions.create({ model, file: await file() });
      expect(json.text).toBe(said);
      const verbose = (await account.client.audio.transcriptions.create({ model, file: await file(), response_format: 'verbose_json' })) as Any;
      expect(verbose).toMatchObject({ task: 'transcribe', language: 'en', text: said });
      const seconds = (speech.readUInt32LE(40) / 48_000);
      expect(verbose.duration).toBeCloseTo(seconds, 2);
      expect(verbose.segments.length).toBeGreaterThan(0);
      const text = await account.client.audio.transcriptions.create({ model, file: await file(), response_format: 'text' });
      expect(text).toBe(`${said}\n`);
      const srt = await account.client.audio.transcriptions.create({ model, file: await file(), response_format: 'srt' });
      expect(srt).toMatch(/^1\n00:00:00,000 --> 00:00:\d\d,\d{3}\n/);
      const vtt = await account.client.audio.transcriptions.create({ model, file: await file(), response_format: 'vtt' });
      expect(vtt).toMatch(/^WEBVTT\n\n00:00:00\.000 --> 00:00:\d\d\.\d{3}\n/);
      // Billed by the WAV's own length, to the millisecond, for each of the five.
      const mine = await since(before, 5);
      expect(mine.every((r) => r.model === model)).toBe(true);
      for (const r of mine) expect(r).toMatchObject({ endpoint: 'transcriptions', mediaUnit: 'audio_ms', mediaUnits: Math.ceil(seconds * 1000), settle: 'complete' });
    });
  }

  /** Sends a multipart upload's head, claiming `declared` bytes, then waits for the answer without sending the rest. */
  function uploadHead(declared: number | undefined, sendBytes: number): Promise<{ status: number; body: string; sent: number }> {
    return new Promise((resolve, reject) => {
      const boundary = 'floodgateboundary';
      const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nsim-whisper\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\nContent-Type: audio/wav\r\n\r\n`);
      const headers: Record<string, string | number> = { authorization: `Bearer ${account.apiKey}`, 'content-type': `multipart/form-data; boundary=${boundary}` };
      if (declared !== undefined) headers['content-length'] = declared;
      const url = new URL(`${gw.url}/v1/audio/transcriptions`);
      const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path: url.pathname, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
      });
      req.on('error', reject);
      let sent = 0;
      req.write(head);
      const chunk = Buffer.alloc(1024 * 1024, 7);
      const pump = (): void => {
        while (sent < sendBytes) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (declared === undefined) req.end();
      };
      pump();
    });
  }

  it('refuses a 26 MiB upload with 413 from its Content-Length, before the body is read', async () => {
    // Only 1 MiB of the declared 26 MiB is ever sent: the answer cannot have waited for the rest.
    const res = await uploadHead(26 * 1024 * 1024, 1024 * 1024);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large', param: 'file' });
  });

  it('cuts off a chunked 26 MiB upload at the limit with 413; the spool file on disk is removed', async () => {
    const spools = () => readdirSync(tmpdir()).filter((name) => name.startsWith('floodgate-upload-')).length;
    const before = spools();
    const res = await uploadHead(undefined, 26 * 1024 * 1024);
    expect(res.status, res.body).toBe(413);
    expect(JSON.parse(res.body).error.param).toBe('file');
    expect(spools()).toBe(before);
  }, 30_000);

  it('names the field of every bad input, and wants multipart', async () => {
    const form = (fields: Record<string, string>, file?: Buffer) => {
      const data = new FormData();
      for (const [k, v] of Object.entries(fields)) data.append(k, v);
      if (file) data.append('file', new Blob([file], { type: 'audio/wav' }), 'a.wav');
      return data;
    };
    const send = (body: FormData) => fetch(`${gw.url}/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${account.apiKey}` }, body });
    const cases: [FormData, string][] = [
      [form({ model: 'sim-whisper' }), 'file'],
      [form({}, speech), 'model'],
      [form({ model: 'sim-whisper', response_format: 'xml' }, speech), 'response_format'],
      [form({ model: 'sim-whisper', temperature: 'hot' }, speech), 'temperature'],
      [form({ model: 'sim-whisper', language: 'English!' }, speech), 'language'],
      [form({ model: 'sim-tts' }, speech), 'model'],
    ];
    for (const [body, param] of cases) {
      const res = await send(body);
      const json = (await res.json()) as Any;
      expect(res.status, param).toBe(400);
      expect(json.error.param).toBe(param);
    }
    const asJson = await post('/audio/transcriptions', { model: 'sim-whisper', file: 'x' });
    expect(asJson.status).toBe(415);
    expect(asJson.json().error.type).toBe('invalid_request_error');
  });
});

describe('videos', () => {
  async function waitFor(id: string, key: string, status: string): Promise<Any> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const res = await rawRequest(`${gw.url}/v1/videos/generations/${id}`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      if (res.json().status === status || Date.now() > deadline) return res.json();
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('create → poll → completed, across a gateway restart; another account gets 404', async () => {
    const dataDir = gw.dataDir;
    const before = await mark();
    const created = await post('/videos/generations', { model: 'remote-video', prompt: 'waves on a beach', seconds: 2, size: '640x360' });
    expect(created.status).toBe(200);
    const job = created.json();
    expect(job).toMatchObject({ object: 'video.generation', model: 'remote-video', status: 'queued', seconds: 2, size: '640x360', result: null });
    expect(job.id).toMatch(/^video_/);
    // Charged when created: 2 s × $0.05.
    const [record] = await since(before, 1);
    expect(record).toMatchObject({ endpoint: 'videos', mediaUnit: 'video_second', mediaUnits: 2, costMicros: 100_000 });

    // The gateway goes away (its store kept) and comes back on the same store.
    await gw.gateway.close();
    gw = await startTestGateway(config(), { dataDir, keepData: true });
    const done = await waitFor(job.id, account.apiKey, 'completed');
    expect(done).toMatchObject({ status: 'completed', progress: 100, result: { content_type: 'video/x-msvideo', url: `/v1/videos/generations/${job.id}/content` } });
    const content = await fetch(`${gw.url}${done.result.url}`, { headers: { authorization: `Bearer ${account.apiKey}` } });
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toBe('video/x-msvideo');
    const avi = Buffer.from(await content.arrayBuffer());
    expect(avi.length).toBe(done.result.bytes);
    expect(avi.toString('latin1', 0, 4)).toBe('RIFF');
    expect(avi.toString('latin1', 8, 12)).toBe('AVI ');

    const other = await gw.createAccount({ creditMicros: 1_000_000 });
    for (const path of [`/v1/videos/generations/${job.id}`, `/v1/videos/generations/${job.id}/content`]) {
      const res = await rawRequest(`${gw.url}${path}`, { headers: { authorization: `Bearer ${other.apiKey}` } });
      expect(res.status).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('the in-process simulator too, and a download before completion is a 409', async () => {
    const created = await post('/videos/generations', { model: 'sim-video', prompt: 'a cat' });
    expect(created.json()).toMatchObject({ seconds: 4, status: 'queued' });
    const early = await rawRequest(`${gw.url}/v1/videos/generations/${created.json().id}/content`, { headers: { authorization: `Bearer ${account.apiKey}` } });
    expect(early.status).toBe(409);
    expect((await waitFor(created.json().id, account.apiKey, 'completed')).status).toBe('completed');
  }, 20_000);

  it('names the field of every bad input; an unknown job is 404', async () => {
    const cases: [unknown, string][] = [
      [{ model: 'sim-video' }, 'prompt'],
      [{ model: 'sim-video', prompt: 'x', seconds: 21 }, 'seconds'],
      [{ model: 'sim-video', prompt: 'x', seconds: 1.5 }, 'seconds'],
      [{ model: 'sim-video', prompt: 'x', size: '100x100' }, 'size'],
      [{ model: 'sim-image', prompt: 'x' }, 'model'],
    ];
    for (const [body, param] of cases) {
      const res = await post('/videos/generations', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json().error.param, JSON.stringify(body)).toBe(param);
    }
    const unknown = await rawRequest(`${gw.url}/v1/videos/generations/video_nope`, { headers: { authorization: `Bearer ${account.apiKey}` } });
    expect(unknown.status).toBe(404);
  });
});

describe('the catalog', () => {
  it('lists the media models with their categories and per-unit prices', async () => {
    // The gateway restarted above on a new port: a raw request to where it is now.
    const list = await rawRequest(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${account.apiKey}` } });
    const byId = Object.fromEntries((list.json().data as Any[]).map((m) => [m.id, m]));
    expect(byId['sim-image']).toMatchObject({ category: 'image', capabilities: ['images'], pricing: { currency: 'USD', per_image: 0.02 } });
    expect(byId['sim-tts']).toMatchObject({ category: 'audio', voices: ['alloy', 'echo', 'nova'], audio_formats: ['wav', 'pcm'] });
    expect(byId['sim-whisper']).toMatchObject({ category: 'audio', capabilities: ['transcriptions'] });
    expect(byId['sim-video']).toMatchObject({ category: 'video', pricing: { per_video_second: 0.05 } });
  });
});
