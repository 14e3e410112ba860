// FlowAPI conformance (issue 15): examples/flowapi.yaml is Floodgate configured as FlowAPI, and every
// testable promise on FlowAPI's public pages — shared/seeds/000_58f34397b624b09c.txt (Overview) and
// shared/seeds/002_963c3f0d7106f7e8.txt (Responses) — is checked here against the running gateway,
// through the official `openai` SDK and raw HTTP. The gateway runs in process on the example file as
// written (`startExample('flowapi')`, the built-in simulator as its backend); where a backend behaviour
// must be forced or observed, a recording fake upstream stands in for the backend (said where it is used);
// the last test runs the file's own start command twice on one data directory.
//
// Promise (page, quoted briefly)                                   → test (`it` name)
// ── Overview ──────────────────────────────────────────────────────────────────────────────────────────
// "send requests to one base URL … one response style across
//  multiple models"                                                 → "serves every chat model under one base URL in one response shape"
// Base URL "https://api.flowapi.net/v1"                             → "serves the API under /v1", "serves every chat model under one base URL in one response shape"
// "Health checks are exposed separately at … /healthz"             → "answers /healthz outside /v1 without a key"
// "Authorization: Bearer YOUR_FLOW_API_KEY"                         → "takes fk- keys as Authorization: Bearer only"
// "Content-Type: application/json"                                  → "takes application/json bodies and refuses other content types"
// "gateway-issued API keys currently use the fk- prefix"           → "takes fk- keys as Authorization: Bearer only", "start command: prints an fk- key once, and a second start on the same data keeps it working"
// "optional X-Request-ID header for tracing"                        → "echoes the X-Request-ID the client sent, on success and on errors"
// "If omitted, FlowAPI generates one and returns it in the
//  response headers"                                                → "generates an X-Request-ID when the client sends none"
// Request type: model, messages (system/user/assistant, name)       → "takes system, user and assistant messages with a name"
// ContentPart text / image_url {url, detail}                        → "takes text and image_url content parts with detail on a vision model"
// Message role "tool" with tool_call_id (and name)                  → "takes a tool message with tool_call_id and name"
// response_format { type: "json_object" } / "Structured Output"     → "answers JSON for response_format json_object"
// stop?: string | string[]                                           → "stops at a stop string", "stops at the first of an array of stops"
// stream?: boolean / "Set stream: true … parse delta chunks"        → "streams chat.completion.chunk events with delta, ending with [DONE]", "streams through the SDK"
// max_tokens                                                         → "caps the answer at max_tokens with finish_reason length"
// temperature, top_p, frequency_penalty, presence_penalty            → "takes temperature, top_p and the penalties, and range-checks them"
// n                                                                  → "returns n choices on a model with the n capability", "refuses n on a model without the n capability (param n)"
// "[key: string]: unknown" / "Provider-specific fields may be
//  forwarded" (tools, tool_choice, top_k, logit_bias,
//  repetition_penalty, seed)                                         → "forwards provider-specific fields to the backend untouched"
// Example Request (DeepSeek-V3.2, verbatim)                          → "answers the Overview's example request verbatim"
// "POST /v1/embeddings … using model and input"                     → "makes 1024-dimension embeddings on BAAI/bge-m3 from model and input"
// Finish reasons stop / length / tool_calls / content_filter        → "returns the documented envelope" (stop), "caps the answer at max_tokens with finish_reason length",
//                                                                      "calls tools: message.tool_calls and finish_reason tool_calls",
//                                                                      "reports content_filter, also for a provider's own safety value"
// "Some upstream providers may return additional provider-specific
//  values"                                                          → "passes an unknown provider finish reason through" (SPEC §5: known dialect values are mapped, unknown ones pass)
// "See Tool Calling for tools and tool_choice details"              → "calls tools: message.tool_calls and finish_reason tool_calls", "streams tool calls through the SDK"
// Error Shape {"error":{"message":"Missing or invalid Bearer API
//  key.","type":"invalid_api_key","code":"401"}}                    → "answers a missing key with the documented 401 body", "answers an invalid key with the same 401 body"
//    SPEC §6 stands over the page: the envelope is OpenAI's, so `param` (null) is present too; the page's
//    type/code differ from SPEC's defaults (authentication_error / invalid_api_key), which issue 15 lets an
//    operator set per error — examples/flowapi.yaml sets them, status stays 401.
// "Gateway-generated errors follow this structure"                   → "words other gateway errors in the same envelope" (message/type/param/code; SPEC §6 types and codes)
// ── Responses ─────────────────────────────────────────────────────────────────────────────────────────
// Envelope: id "chatcmpl-…", object "chat.completion", created
//  (Unix timestamp), model, choices, usage                           → "returns the documented envelope"
// "model: The model that produced the response"                     → "returns the documented envelope", "names the model as asked, alias included"
//    SPEC §5 stands: `model` is the name the client asked for (an alias stays the alias), not the upstream's.
// choices[]: index, message (non-stream), delta (stream),
//  finish_reason string or null                                      → "returns the documented envelope", "streams chat.completion.chunk events with delta, ending with [DONE]"
// Assistant message {role: "assistant", content}                    → "returns the documented envelope"
// "the assistant payload may also include tool_calls"               → "calls tools: message.tool_calls and finish_reason tool_calls"
// Usage {prompt_tokens, completion_tokens, total_tokens}, "usually
//  present on non-streaming responses"                               → "returns the documented envelope", "streams chat.completion.chunk events with delta, ending with [DONE]" (usage only with stream_options.include_usage, SPEC §5)
// Streaming chunk: object "chat.completion.chunk", delta {content},
//  finish_reason null until the end                                  → "streams chat.completion.chunk events with delta, ending with [DONE]"
// ── Not testable, and why ─────────────────────────────────────────────────────────────────────────────
// "Some upstream providers may include more detailed fields
//  (prompt_tokens_details, completion_tokens_details,
//  reasoning_tokens, cached token breakdowns)"                       → a "may" about third-party backends, nothing FlowAPI itself promises.
//    What SPEC §5 promises about them (passed on where the backend reports them) is checked in
//    "passes a backend's detailed usage fields on".
// "compatibility is model-dependent", "not guaranteed to behave
//  consistently across all providers", "test it against the exact
//  target model in production-like conditions"                       → disclaimers, not promises.
// "See Error Codes / Structured Outputs / Streaming / Tool Calling
//  pages", "API Reference" links                                      → other pages, not part of these two.
// Hostname api.flowapi.net                                          → a deployment's DNS name; the tests run on 127.0.0.1 (the path layout is what is checked).
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printedValue, spawnExample, startExample } from '../helpers/examples.js';
import { rawRequest, sseData, startFakeUpstream, type ChildServer, type FakeUpstream, type RecordedRequest, type TestGateway } from '../helpers/gateway.js';

const V32 = 'deepseek-ai/DeepSeek-V3.2';
const N_MODEL = 'Qwen/Qwen3-235B-A22B-Instruct-2507';
const VISION = 'Qwen/Qwen2.5-VL-72B-Instruct';
const EMBED = 'BAAI/bge-m3';
const CHAT_MODELS = [V32, 'deepseek-ai/DeepSeek-R1-0528', N_MODEL, VISION, 'moonshotai/Kimi-K2-Instruct', 'meta-llama/Llama-3.3-70B-Instruct'];
const FLOW_401 = { error: { message: 'Missing or invalid Bearer API key.', type: 'invalid_api_key', param: null, code: '401' } };
// A 1×1 PNG.
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  },
};

let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  gw = await startExample('flowapi');
  client = gw.client;
});

afterAll(async () => {
  await gw?.close();
});

function chat(json: unknown, headers: Record<string, string> = { authorization: `Bearer ${gw.apiKey}` }, path = '/v1/chat/completions') {
  return rawRequest(`${gw.url}${path}`, { method: 'POST', headers, json });
}

const user = (content: string) => ({ role: 'user' as const, content });

describe('Overview: base URL, health check, keys, request IDs', () => {
  it('serves the API under /v1', async () => {
    // The SDK is pointed at <host>/v1 (gw.client) and finds FlowAPI's catalog there.
    const models = (await client.models.list()).data.map((m) => m.id);
    expect(models).toEqual(expect.arrayContaining([...CHAT_MODELS, EMBED]));
    const ok = await chat({ model: V32, messages: [user('hi')], max_tokens: 5 });
    expect(ok.status).toBe(200);
    // Not outside it: the same call without /v1 is a 404 in the error envelope.
    const off = await chat({ model: V32, messages: [user('hi')], max_tokens: 5 }, undefined, '/chat/completions');
    expect(off.status).toBe(404);
    expect(off.json().error).toMatchObject({ message: expect.any(String), type: expect.any(String) });
  });

  it('answers /healthz outside /v1 without a key', async () => {
    const res = await rawRequest(`${gw.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    const ready = await rawRequest(`${gw.url}/healthz?ready=1`);
    expect(ready.status).toBe(200);
    expect(ready.headers.get('x-request-id')).toBeTruthy();
    // /healthz is not under the base URL.
    expect((await rawRequest(`${gw.url}/v1/healthz`, { headers: { authorization: `Bearer ${gw.apiKey}` } })).status).toBe(404);
  });

  it('takes fk- keys as Authorization: Bearer only', async () => {
    expect(gw.apiKey).toMatch(/^fk-[A-Za-z0-9]{32,}$/);
    const body = { model: V32, messages: [user('hi')], max_tokens: 5 };
    expect((await chat(body, { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' })).status).toBe(200);
    // The same key in another header or scheme is no key at all.
    const elsewhere: Record<string, string>[] = [{ 'x-api-key': gw.apiKey }, { authorization: gw.apiKey }, { authorization: `Basic ${gw.apiKey}` }];
    for (const headers of elsewhere) {
      const res = await chat(body, headers);
      expect(res.status).toBe(401);
      expect(res.json()).toEqual(FLOW_401);
    }
    // A key the admin API issues later has the fk- prefix too, and works.
    const account = await gw.createAccount({ creditMicros: 1_000_000 });
    expect(account.apiKey).toMatch(/^fk-/);
    const answer = await account.client.chat.completions.create({ model: V32, messages: [user('hi')], max_tokens: 5 });
    expect(answer.choices[0]!.message.role).toBe('assistant');
  });

  it('takes application/json bodies and refuses other content types', async () => {
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'text/plain' },
      body: JSON.stringify({ model: V32, messages: [user('hi')] }),
    });
    // SPEC §4: a wrong Content-Type is a 400/415 in the envelope.
    expect([400, 415]).toContain(res.status);
    expect(res.json().error).toMatchObject({ message: expect.any(String), type: 'invalid_request_error' });
  });

  it('answers a missing key with the documented 401 body', async () => {
    const res = await chat({ model: V32, messages: [user('hi')] }, {});
    expect(res.status).toBe(401);
    // Exactly the page's body, plus `param: null` (SPEC §6: the envelope stays OpenAI's).
    expect(res.json()).toEqual(FLOW_401);
    // Through the SDK too, its Authorization header removed (null drops a default header).
    const anonymous = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', defaultHeaders: { authorization: null }, maxRetries: 0 });
    const err = await anonymous.chat.completions.create({ model: V32, messages: [user('hi')] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).error).toEqual(FLOW_401.error);
  });

  it('answers an invalid key with the same 401 body', async () => {
    for (const key of [`fk-${'x'.repeat(40)}`, 'fk-short', 'not-a-flow-key', `${gw.apiKey}x`]) {
      const res = await chat({ model: V32, messages: [user('hi')] }, { authorization: `Bearer ${key}` });
      expect(res.status).toBe(401);
      expect(res.json()).toEqual(FLOW_401);
    }
    const stranger = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: `fk-${'A1'.repeat(20)}`, maxRetries: 0 });
    const err = await stranger.embeddings.create({ model: EMBED, input: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).error).toEqual(FLOW_401.error);
  });

  it('words other gateway errors in the same envelope', async () => {
    const bad = await chat({ model: V32, messages: [{ role: 'robot', content: 'hi' }] });
    expect(bad.status).toBe(400);
    expect(bad.json()).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: 'messages[0].role', code: null } });
    const unknown = await chat({ model: 'no-such/model', messages: [user('hi')] });
    expect(unknown.status).toBe(404);
    expect(unknown.json().error).toMatchObject({ message: expect.stringContaining('no-such/model'), type: 'invalid_request_error', code: 'model_not_found' });
    expect(unknown.json().error).toHaveProperty('param');
  });

  it('echoes the X-Request-ID the client sent, on success and on errors', async () => {
    const { response } = await client.chat.completions
      .create({ model: V32, messages: [user('hi')], max_tokens: 5 }, { headers: { 'X-Request-ID': 'trace-flow-0001' } })
      .withResponse();
    expect(response.headers.get('x-request-id')).toBe('trace-flow-0001');
    const streamed = await chat({ model: V32, messages: [user('hi')], max_tokens: 5, stream: true }, { authorization: `Bearer ${gw.apiKey}`, 'x-request-id': 'trace:stream.2' });
    expect(streamed.headers.get('x-request-id')).toBe('trace:stream.2');
    const denied = await chat({ model: V32, messages: [user('hi')] }, { 'x-request-id': 'trace-denied-3' });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('x-request-id')).toBe('trace-denied-3');
    const health = await rawRequest(`${gw.url}/healthz`, { headers: { 'x-request-id': 'trace-health-4' } });
    expect(health.headers.get('x-request-id')).toBe('trace-health-4');
  });

  it('generates an X-Request-ID when the client sends none', async () => {
    const a = await chat({ model: V32, messages: [user('hi')], max_tokens: 5 });
    const b = await chat({ model: V32, messages: [user('hi')] }, {});
    const ids = [a.headers.get('x-request-id'), b.headers.get('x-request-id')];
    for (const id of ids) expect(id).toMatch(/^req_[A-Za-z0-9]+$/);
    expect(ids[0]).not.toBe(ids[1]);
    // SPEC §3: an ID outside 1–128 of [A-Za-z0-9._:-] is replaced by a generated one.
    const odd = await chat({ model: V32, messages: [user('hi')], max_tokens: 5 }, { authorization: `Bearer ${gw.apiKey}`, 'x-request-id': 'has spaces in it' });
    expect(odd.headers.get('x-request-id')).toMatch(/^req_[A-Za-z0-9]+$/);
  });
});

describe('Overview: the request', () => {
  it('takes system, user and assistant messages with a name', async () => {
    const res = await client.chat.completions.create({
      model: V32,
      messages: [
        { role: 'system', content: 'You are a concise technical assistant.', name: 'policy' },
        { role: 'user', content: 'What is SSE?', name: 'ada' },
        { role: 'assistant', content: 'Server-Sent Events.', name: 'helper' },
        { role: 'user', content: [{ type: 'text', text: 'And why use it?' }] },
      ],
      max_tokens: 20,
    });
    expect(res.choices[0]!.message).toMatchObject({ role: 'assistant', content: expect.any(String) });
    // Each message's shape is checked (SPEC §4): a role outside the list is a 400 naming it.
    const bad = await chat({ model: V32, messages: [user('hi'), { role: 'assistant', content: 42 }] });
    expect(bad.status).toBe(400);
    expect(bad.json().error.param).toMatch(/^messages\[1\]\.content/);
  });

  it('takes text and image_url content parts with detail on a vision model', async () => {
    for (const detail of ['low', 'high', 'auto'] as const) {
      const res = await client.chat.completions.create({
        model: VISION,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in this picture?' },
              { type: 'image_url', image_url: { url: PNG, detail } },
            ],
          },
        ],
        max_tokens: 10,
      });
      expect(res.model).toBe(VISION);
      expect(res.choices[0]!.message.content).toEqual(expect.any(String));
    }
    // SPEC §7: an image part to a model without vision is a 400 naming the field, before any backend.
    const text = await chat({ model: V32, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: PNG } }] }] });
    expect(text.status).toBe(400);
    expect(text.json().error.param).toMatch(/^messages\[0\]\.content/);
  });

  it('takes a tool message with tool_call_id and name', async () => {
    const messages = [
      user('What is the weather in Paris?'),
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', name: 'get_weather', content: '{"temperature_c": 21}' },
    ];
    const res = await chat({ model: V32, messages, tools: [WEATHER_TOOL], max_tokens: 30 });
    expect(res.status).toBe(200);
    const choice = res.json().choices[0];
    expect(choice.message.role).toBe('assistant');
    // The simulator answers a tool result as such: the tool message reached the backend as a tool result.
    expect(choice.message.content).toMatch(/tool result/);
    // SPEC §4: a tool message needs its tool_call_id.
    const missing = await chat({ model: V32, messages: [messages[0], messages[1], { role: 'tool', content: 'x' }], tools: [WEATHER_TOOL] });
    expect(missing.status).toBe(400);
    expect(missing.json().error.param).toBe('messages[2].tool_call_id');
  });

  it('answers JSON for response_format json_object', async () => {
    const res = await client.chat.completions.create({
      model: V32,
      messages: [{ role: 'system', content: 'Answer in JSON.' }, user('List two colours as JSON.')],
      response_format: { type: 'json_object' },
      max_tokens: 200,
    });
    const content = res.choices[0]!.message.content!;
    const parsed: unknown = JSON.parse(content);
    expect(parsed).toBeTypeOf('object');
    expect(Array.isArray(parsed)).toBe(false);
    expect(res.choices[0]!.finish_reason).toBe('stop');
  });

  it('stops at a stop string', async () => {
    // Every simulated answer opens "This is a simulated response."
    const free = await client.chat.completions.create({ model: V32, messages: [user('hi')], max_tokens: 20 });
    expect(free.choices[0]!.message.content).toMatch(/^This is a simulated/);
    const res = await client.chat.completions.create({ model: V32, messages: [user('hi')], max_tokens: 20, stop: ' simulated' });
    expect(res.choices[0]!.message.content).toBe('This is a');
    expect(res.choices[0]!.finish_reason).toBe('stop');
  });

  it('stops at the first of an array of stops', async () => {
    const res = await client.chat.completions.create({ model: V32, messages: [user('hi')], max_tokens: 20, stop: [' never-said', ' a simulated', ' simulated'] });
    expect(res.choices[0]!.message.content).toBe('This is');
    expect(res.choices[0]!.finish_reason).toBe('stop');
    // SPEC §4: at most four stops.
    const many = await chat({ model: V32, messages: [user('hi')], stop: ['a', 'b', 'c', 'd', 'e'] });
    expect(many.status).toBe(400);
    expect(many.json().error.param).toBe('stop');
  });

  it('caps the answer at max_tokens with finish_reason length', async () => {
    const res = await client.chat.completions.create({ model: V32, messages: [user('Tell me a long story.')], max_tokens: 3 });
    expect(res.choices[0]!.finish_reason).toBe('length');
    expect(res.usage!.completion_tokens).toBe(3);
    expect(res.choices[0]!.message.content).toBe('This is a');
  });

  it('takes temperature, top_p and the penalties, and range-checks them', async () => {
    const res = await client.chat.completions.create({
      model: V32,
      messages: [user('hi')],
      max_tokens: 10,
      temperature: 0.2,
      top_p: 0.9,
      frequency_penalty: 0.5,
      presence_penalty: -0.5,
    });
    expect(res.choices[0]!.message.content).toEqual(expect.any(String));
    // SPEC §4: temperature 0–2, top_p 0–1, penalties −2–2; a value outside is a 400 naming the field.
    for (const [field, value] of [['temperature', 2.5], ['top_p', 1.5], ['frequency_penalty', 3], ['presence_penalty', -3]] as const) {
      const bad = await chat({ model: V32, messages: [user('hi')], [field]: value });
      expect(bad.status, field).toBe(400);
      expect(bad.json().error.param).toBe(field);
    }
  });

  it('returns n choices on a model with the n capability', async () => {
    const res = await client.chat.completions.create({ model: N_MODEL, messages: [user('hi')], max_tokens: 8, n: 3 });
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    for (const c of res.choices) expect(c.message).toMatchObject({ role: 'assistant', content: expect.any(String) });
  });

  it('refuses n on a model without the n capability (param n)', async () => {
    const res = await chat({ model: V32, messages: [user('hi')], n: 2 });
    expect(res.status).toBe(400);
    expect(res.json().error).toMatchObject({ type: 'invalid_request_error', param: 'n' });
    // n: 1 is every model's default, and allowed.
    expect((await chat({ model: V32, messages: [user('hi')], n: 1, max_tokens: 5 })).status).toBe(200);
  });

  it('answers the Overview\'s example request verbatim', async () => {
    // Copied from the page as it stands.
    const example =
      '{ "model": "deepseek-ai/DeepSeek-V3.2", "messages": [ { "role": "system", "content": "You are a concise technical assistant." }, { "role": "user", "content": "Summarize the benefits of streaming responses." } ], "temperature": 0.7, "max_tokens": 1024, "stream": false }';
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: example,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = res.json();
    expect(body).toMatchObject({ object: 'chat.completion', model: V32, choices: [{ index: 0, message: { role: 'assistant' }, finish_reason: 'stop' }] });
  });

  it('makes 1024-dimension embeddings on BAAI/bge-m3 from model and input', async () => {
    const one = await client.embeddings.create({ model: EMBED, input: 'FlowAPI turns text into vectors.' });
    expect(one.object).toBe('list');
    expect(one.model).toBe(EMBED);
    expect(one.data).toHaveLength(1);
    expect(one.data[0]!).toMatchObject({ object: 'embedding', index: 0 });
    expect(one.data[0]!.embedding).toHaveLength(1024);
    expect(one.usage.prompt_tokens).toBeGreaterThan(0);
    const many = await client.embeddings.create({ model: EMBED, input: ['first', 'second', 'third'], encoding_format: 'float' });
    expect(many.data.map((d) => d.index)).toEqual([0, 1, 2]);
    for (const d of many.data) expect(d.embedding).toHaveLength(1024);
    // Raw: only model and input, as the page says.
    const raw = await rawRequest(`${gw.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}` }, json: { model: EMBED, input: 'hello' } });
    expect(raw.status).toBe(200);
    expect(raw.json().data[0].embedding).toHaveLength(1024);
  });
});

describe('Responses: envelope, streaming, finish reasons, tools', () => {
  it('returns the documented envelope', async () => {
    const before = Math.floor(Date.now() / 1000);
    // max_tokens above the simulator's longest answer (64 tokens), so it ends on its own: finish_reason stop.
    const res = await chat({ model: V32, messages: [user('Hello!')], max_tokens: 200 });
    const after = Math.floor(Date.now() / 1000);
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.object).toBe('chat.completion');
    expect(Number.isInteger(body.created)).toBe(true);
    expect(body.created).toBeGreaterThanOrEqual(before - 1);
    expect(body.created).toBeLessThanOrEqual(after + 1);
    expect(body.model).toBe(V32);
    expect(body.choices).toHaveLength(1);
    expect(body.choices[0]).toMatchObject({ index: 0, message: { role: 'assistant', content: expect.any(String) }, finish_reason: 'stop' });
    expect(body.choices[0]).not.toHaveProperty('delta');
    const usage = body.usage;
    for (const f of ['prompt_tokens', 'completion_tokens', 'total_tokens']) expect(Number.isInteger(usage[f]), f).toBe(true);
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeGreaterThan(0);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    // Every completion has its own id.
    const again = await chat({ model: V32, messages: [user('Hello!')], max_tokens: 5 });
    expect(again.json().id).not.toBe(body.id);
  });

  it('names the model as asked, alias included', async () => {
    const res = await client.chat.completions.create({ model: 'deepseek-v3.2', messages: [user('hi')], max_tokens: 5 });
    expect(res.model).toBe('deepseek-v3.2');
  });

  it('serves every chat model under one base URL in one response shape', async () => {
    for (const model of CHAT_MODELS) {
      const res = await client.chat.completions.create({ model, messages: [user('hi')], max_tokens: 60 });
      expect(res.id, model).toMatch(/^chatcmpl-/);
      expect(res).toMatchObject({ object: 'chat.completion', model });
      expect(res.choices[0]!).toMatchObject({ index: 0, message: { role: 'assistant' }, finish_reason: expect.stringMatching(/^(stop|length)$/) });
      expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
    }
  });

  it('streams chat.completion.chunk events with delta, ending with [DONE]', async () => {
    // max_tokens below the simulator's shortest answer (16 tokens): the last chunk says length.
    const res = await chat({ model: V32, messages: [user('Hello!')], max_tokens: 10, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseData(res.text);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) {
      expect(c.object).toBe('chat.completion.chunk');
      expect(c.id).toBe(chunks[0].id);
      expect(c.created).toBe(chunks[0].created);
      expect(c.model).toBe(V32);
      expect(c.choices).toHaveLength(1);
      expect(c.choices[0].index).toBe(0);
      expect(c.choices[0]).toHaveProperty('delta');
      expect(c.choices[0]).not.toHaveProperty('message');
      // Usage is on non-streaming responses; a stream carries it only when asked for (SPEC §5).
      expect(c.usage ?? null).toBeNull();
    }
    expect(chunks[0].id).toMatch(/^chatcmpl-/);
    expect(Number.isInteger(chunks[0].created)).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    // finish_reason is null until the last chunk, which says why it stopped.
    expect(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('length');
    const text = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
    expect(text).toMatch(/^This is a simulated response\./);
    expect(chunks.filter((c) => c.choices[0].delta.content).length).toBe(10);
    // With stream_options.include_usage a last chunk with no choices carries the usage.
    const withUsage = sseData((await chat({ model: V32, messages: [user('Hello!')], max_tokens: 10, stream: true, stream_options: { include_usage: true } })).text);
    const last = JSON.parse(withUsage.at(-2)!);
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ completion_tokens: 10, total_tokens: last.usage.prompt_tokens + 10 });
  });

  it('streams through the SDK', async () => {
    const stream = await client.chat.completions.create({ model: V32, messages: [user('Hello!')], max_tokens: 200, stream: true });
    let text = '';
    let finish: string | null = null;
    let count = 0;
    for await (const chunk of stream) {
      count++;
      expect(chunk.object).toBe('chat.completion.chunk');
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(count).toBeGreaterThan(2);
    expect(text).toMatch(/^This is a simulated response\./);
    expect(finish).toBe('stop');
  });

  it('calls tools: message.tool_calls and finish_reason tool_calls', async () => {
    const res = await client.chat.completions.create({
      model: V32,
      messages: [user('What is the weather in Paris?')],
      tools: [WEATHER_TOOL],
      tool_choice: 'required',
      max_tokens: 200,
    });
    const choice = res.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.role).toBe('assistant');
    const calls = choice.message.tool_calls!;
    expect(calls).toHaveLength(1);
    const call = calls[0]! as { id: string; type: string; function: { name: string; arguments: string } };
    expect(call.id).toEqual(expect.any(String));
    expect(call.type).toBe('function');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: expect.any(String) });
    // A named tool_choice is honoured as well.
    const named = await client.chat.completions.create({
      model: 'moonshotai/Kimi-K2-Instruct',
      messages: [user('Weather?')],
      tools: [WEATHER_TOOL],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 200,
    });
    expect(named.choices[0]!.finish_reason).toBe('tool_calls');
    // SPEC §7: tools to a model without the tools capability is a 400 naming the field.
    const refused = await chat({ model: VISION, messages: [user('Weather?')], tools: [WEATHER_TOOL] });
    expect(refused.status).toBe(400);
    expect(refused.json().error.param).toMatch(/^tools/);
  });

  it('streams tool calls through the SDK', async () => {
    const stream = await client.chat.completions.create({ model: V32, messages: [user('Weather in Paris?')], tools: [WEATHER_TOOL], tool_choice: 'required', max_tokens: 200, stream: true });
    let name = '';
    let args = '';
    let id: string | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) {
        expect(tc.index).toBe(0);
        id ??= tc.id;
        name += tc.function?.name ?? '';
        args += tc.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(id).toEqual(expect.any(String));
    expect(name).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ city: expect.any(String) });
    expect(finish).toBe('tool_calls');
  });
});

describe('through a recording backend (the provider pointed at a fake upstream)', () => {
  // This block starts a second gateway on the same example file with one change: its provider
  // `backend` is `type: openai` at a recording fake upstream instead of the simulator, to see what
  // reaches the backend and to force finish reasons the simulator never gives.
  let upstream: FakeUpstream;
  let fake: TestGateway;

  /** The fake's answer: finish_reason from "finish:<reason>" in the last message, else "stop". */
  function respond(req: RecordedRequest, res: ServerResponse) {
    if (req.method !== 'POST') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [] }));
      return;
    }
    const messages = (req.body.messages ?? []) as { content?: unknown }[];
    const last = String(messages.at(-1)?.content ?? '');
    const finish = /finish:(\S+)/.exec(last)?.[1] ?? 'stop';
    const usage = { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15, prompt_tokens_details: { cached_tokens: 8 }, completion_tokens_details: { reasoning_tokens: 2 } };
    const base = { id: 'upstream-1', created: 1_700_000_000, model: 'upstream-name', system_fingerprint: 'fp_x' };
    if (req.body.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: 'Filtered' }, finish_reason: null }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: finish }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Filtered' }, finish_reason: finish }], usage }));
  }

  beforeAll(async () => {
    upstream = await startFakeUpstream(respond);
    fake = await startExample('flowapi', (raw) => {
      raw.providers = { backend: { type: 'openai', base_url: `${upstream.url}/v1` } };
    });
  });

  afterAll(async () => {
    await fake?.close();
    await upstream?.close();
  });

  function fakeChat(json: Record<string, unknown>, headers: Record<string, string> = {}) {
    return rawRequest(`${fake.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${fake.apiKey}`, ...headers }, json });
  }

  it('forwards provider-specific fields to the backend untouched', async () => {
    upstream.requests.length = 0;
    const extras = {
      top_k: 40,
      logit_bias: { '1234': -100, '42': 5 },
      repetition_penalty: 1.1,
      seed: 7,
      tools: [WEATHER_TOOL],
      tool_choice: 'auto',
    };
    const res = await fakeChat({ model: V32, messages: [user('hi')], max_tokens: 50, ...extras }, { 'x-request-id': 'trace-upstream-5' });
    expect(res.status).toBe(200);
    const sent = upstream.requests.filter((r) => r.method === 'POST');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.url).toBe('/v1/chat/completions');
    expect(sent[0]!.body).toMatchObject(extras);
    expect(sent[0]!.body.messages).toEqual([user('hi')]);
    // The request ID travels to the backend too (SPEC §3).
    expect(sent[0]!.headers['x-request-id']).toBe('trace-upstream-5');
  });

  it('reports content_filter, also for a provider\'s own safety value', async () => {
    for (const reason of ['content_filter', 'safety']) {
      const res = await fake.client.chat.completions.create({ model: V32, messages: [user(`finish:${reason}`)], max_tokens: 20 });
      expect(res.choices[0]!.finish_reason, reason).toBe('content_filter');
      // The envelope is FlowAPI's, not the backend's: our id, the asked model name.
      expect(res.id).toMatch(/^chatcmpl-/);
      expect(res.model).toBe(V32);
      const streamed = sseData((await fakeChat({ model: V32, messages: [user(`finish:${reason}`)], max_tokens: 20, stream: true })).text);
      expect(streamed.at(-1)).toBe('[DONE]');
      const reasons = streamed.slice(0, -1).map((e) => JSON.parse(e).choices[0]?.finish_reason ?? null);
      expect(reasons.filter((r) => r !== null)).toEqual(['content_filter']);
    }
  });

  it('passes an unknown provider finish reason through', async () => {
    const res = await fakeChat({ model: V32, messages: [user('finish:provider_custom_reason')], max_tokens: 20 });
    expect(res.status).toBe(200);
    expect(res.json().choices[0].finish_reason).toBe('provider_custom_reason');
  });

  it("passes a backend's detailed usage fields on", async () => {
    const res = await fakeChat({ model: V32, messages: [user('hi')], max_tokens: 20 });
    const usage = res.json().usage;
    expect(usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 });
    expect(usage.prompt_tokens_details).toMatchObject({ cached_tokens: 8 });
    expect(usage.completion_tokens_details).toMatchObject({ reasoning_tokens: 2 });
  });
});

describe("the example's own start command", () => {
  const servers: ChildServer[] = [];
  let dataDir: string;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'floodgate-flowapi-'));
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function ask(url: string, apiKey: string) {
    const c = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
    return c.chat.completions.create({ model: V32, messages: [user('hi')], max_tokens: 5 });
  }

  it('start command: prints an fk- key once, and a second start on the same data keeps it working', async () => {
    const first = await spawnExample('flowapi', dataDir);
    servers.push(first);
    const key = printedValue(first, 'API key');
    expect(key).toMatch(/^fk-[A-Za-z0-9]{32,}$/);
    // The first account is credited (billing.initial_credit), so the key works at once.
    const answer = await ask(first.url, key!);
    expect(answer.choices[0]!.message.role).toBe('assistant');
    expect((await rawRequest(`${first.url}/healthz`)).status).toBe(200);
    await first.stop();

    const second = await spawnExample('flowapi', dataDir);
    servers.push(second);
    expect(printedValue(second, 'API key')).toBeUndefined();
    expect(second.output.join('\n')).not.toMatch(/fk-[A-Za-z0-9]{32,}/);
    const again = await ask(second.url, key!);
    expect(again.choices[0]!.message.role).toBe('assistant');
    await second.stop();
  });
});
