// The pages anyone may read: landing with the quick start, the model catalog, one model, the API docs.
import { api, type DocsView, type ModelView, type Pricing } from '../api';
import { CodeTabs, CopyButton, LoadState, TableWrap, formatPrice, formatTokens, useLoad } from '../components';
import { Link } from '../router';
import { codeSamples, quickStart } from '../samples';
import { useShared } from '../state';

export function Landing() {
  const { config, session } = useShared();
  const models = useLoad(() => api<{ data: ModelView[] }>('/models'), []);
  const baseUrl = config?.base_url ?? `${location.origin}/v1`;
  const prefix = config?.key_prefix ?? '';
  const firstChat = models.data?.data.find((m) => m.capabilities.includes('chat'))?.id ?? 'your-model-id';
  const signedIn = Boolean(session?.user);
  return (
    <>
      <section class="hero">
        <h1>{config?.title ?? 'Floodgate'}</h1>
        <p class="lead">An OpenAI-compatible API: use the SDKs and tools you already have, with your own key, limits and balance.</p>
        <div class="baseurl">
          <span class="label">Base URL</span>
          <code data-testid="base-url">{baseUrl}</code>
          <CopyButton text={baseUrl} label="Copy base URL" />
        </div>
        <p class="actions">
          {signedIn
            ? <Link class="button" to="/keys">Create a key</Link>
            : config?.signup !== 'closed' && <Link class="button" to="/signup">Sign up</Link>}
          <Link class="button secondary" to="/models">Browse models</Link>
          <Link class="button secondary" to="/docs">Read the docs</Link>
        </p>
      </section>
      <section>
        <h2>Quick start</h2>
        <ol class="steps">
          <li>{signedIn ? <Link to="/keys">Create a key</Link> : <><Link to="/signup">Sign up</Link> and create a key</>} (it starts with <code>{prefix || '…'}</code> and is shown only once).</li>
          <li>Put it in the environment: <code>export FLOODGATE_API_KEY="{prefix}…"</code></li>
          <li>Point any OpenAI client at the base URL:</li>
        </ol>
        <CodeTabs label="Quick start samples" samples={quickStart(baseUrl, prefix, firstChat)} />
      </section>
      {config?.support && <p class="muted">Support: {config.support}</p>}
    </>
  );
}

/** The prices of a model as short text cells: per million tokens, or per unit for media. */
/** A tier's limit as people read it: `2,000,000`, or unlimited when the tier sets none. */
function count(value: number | null | undefined): string {
  return value === null || value === undefined ? 'unlimited' : value.toLocaleString('en-US');
}

function mediaPrice(pricing: Pricing): string | null {
  if (pricing.per_image !== undefined) return `${formatPrice(pricing.per_image)} / image`;
  if (pricing.per_second !== undefined) return `${formatPrice(pricing.per_second)} / second`;
  if (pricing.per_character !== undefined) return `${formatPrice(pricing.per_character * 1_000_000)} / 1M characters`;
  if (pricing.per_video_second !== undefined) return `${formatPrice(pricing.per_video_second)} / video second`;
  return null;
}

function LiveDot({ live }: { live: boolean }) {
  return <span class={`dot ${live ? 'live' : 'down'}`}><span aria-hidden="true">●</span> {live ? 'Live' : 'Unavailable'}</span>;
}

export function Models() {
  const models = useLoad(() => api<{ data: ModelView[] }>('/models'), []);
  return (
    <>
      <h1>Models</h1>
      <p class="muted">Prices in USD per million tokens unless a unit is shown. Live means a healthy backend serves it now.</p>
      <LoadState loaded={models}>
        <TableWrap label="Models">
          <table class="models">
            <thead>
              <tr>
                <th scope="col">Model</th><th scope="col">Family</th><th scope="col">Category</th>
                <th scope="col" class="num">Context</th><th scope="col" class="num">Max output</th>
                <th scope="col" class="num">Input</th><th scope="col" class="num">Cached input</th><th scope="col" class="num">Output</th>
                <th scope="col">Capabilities</th><th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {models.data?.data.map((m) => {
                const media = mediaPrice(m.pricing);
                return (
                  <tr key={m.id} data-testid="model-row" data-model-id={m.id}>
                    <th scope="row"><Link to={`/models/${encodeURIComponent(m.id)}`}>{m.id}</Link></th>
                    <td>{m.family || m.owned_by}</td>
                    <td>{m.category}</td>
                    <td class="num">{formatTokens(m.context_length)}</td>
                    <td class="num">{formatTokens(m.max_output_tokens)}</td>
                    {media && m.pricing.input === undefined
                      ? <td class="num" colSpan={3}>{media}</td>
                      : <>
                        <td class="num" data-testid={m.pricing.input === undefined ? undefined : 'model-price-input'}>{formatPrice(m.pricing.input)}</td>
                        <td class="num">{formatPrice(m.pricing.cached_input)}</td>
                        <td class="num" data-testid={m.pricing.output === undefined ? undefined : 'model-price-output'}>{formatPrice(m.pricing.output)}</td>
                      </>}
                    <td><Tags items={m.capabilities} /></td>
                    <td><LiveDot live={m.live} /></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      </LoadState>
    </>
  );
}

function Tags({ items }: { items: string[] }) {
  return <ul class="tags">{items.map((c) => <li key={c}>{c}</li>)}</ul>;
}

export function ModelPage({ id }: { id: string }) {
  const { config } = useShared();
  const model = useLoad(() => api<ModelView>(`/models/${encodeURIComponent(id)}`), [id]);
  const m = model.data;
  const baseUrl = config?.base_url ?? `${location.origin}/v1`;
  return (
    <>
      <p><Link to="/models">← All models</Link></p>
      <LoadState loaded={model}>
        {m && (
          <>
            <h1>{m.id} <LiveDot live={m.live} /></h1>
            {m.description && <p class="lead">{m.description}</p>}
            <dl class="facts">
              <dt>Family</dt><dd>{m.family || m.owned_by}</dd>
              <dt>Category</dt><dd>{m.category}</dd>
              <dt>Context</dt><dd>{formatTokens(m.context_length)} tokens</dd>
              <dt>Max output</dt><dd>{formatTokens(m.max_output_tokens)} tokens</dd>
              {m.aliases.length > 0 && <><dt>Aliases</dt><dd>{m.aliases.join(', ')}</dd></>}
            </dl>
            <h2>Prices</h2>
            <dl class="facts prices">
              {m.pricing.input !== undefined && <><dt>Input</dt><dd data-testid="model-price-input">{formatPrice(m.pricing.input)} / 1M tokens</dd></>}
              {m.pricing.cached_input !== undefined && <><dt>Cached input</dt><dd>{formatPrice(m.pricing.cached_input)} / 1M tokens</dd></>}
              {m.pricing.output !== undefined && <><dt>Output</dt><dd data-testid="model-price-output">{formatPrice(m.pricing.output)} / 1M tokens</dd></>}
              {m.pricing.per_image !== undefined && <><dt>Per image</dt><dd>{formatPrice(m.pricing.per_image)}</dd></>}
              {m.pricing.per_second !== undefined && <><dt>Per second of audio</dt><dd>{formatPrice(m.pricing.per_second)}</dd></>}
              {m.pricing.per_character !== undefined && <><dt>Per million characters</dt><dd>{formatPrice(m.pricing.per_character * 1_000_000)}</dd></>}
              {m.pricing.per_video_second !== undefined && <><dt>Per video second</dt><dd>{formatPrice(m.pricing.per_video_second)}</dd></>}
            </dl>
            <h2>Capabilities</h2>
            <Tags items={m.capabilities} />
            {m.voices && m.voices.length > 0 && <><h2>Voices</h2><Tags items={m.voices} /></>}
            {m.sizes && m.sizes.length > 0 && <><h2>Sizes</h2><Tags items={m.sizes} /></>}
            {m.formats && m.formats.length > 0 && <><h2>Formats</h2><Tags items={m.formats} /></>}
            <h2>Try it</h2>
            <CodeTabs label={`Requests to ${m.id}`} samples={codeSamples(m, baseUrl, config?.key_prefix ?? '')} />
          </>
        )}
      </LoadState>
    </>
  );
}

export function Docs() {
  const docs = useLoad(() => api<DocsView>('/docs'), []);
  const d = docs.data;
  return (
    <>
      <h1>API reference</h1>
      <LoadState loaded={docs}>
        {d && (
          <>
            <section>
              <h2>Base URL and keys</h2>
              <p>Base URL: <code>{d.base_url}</code> <CopyButton text={d.base_url} label="Copy base URL" /></p>
              <p>Send your key as <code>Authorization: Bearer {d.key_prefix}…</code>. Keys start with <code>{d.key_prefix}</code> and are shown only once, when created on the <Link to="/keys">Keys</Link> page.</p>
            </section>
            <section>
              <h2>Endpoints</h2>
              <TableWrap label="Endpoints">
                <table>
                  <thead><tr><th scope="col">Method</th><th scope="col">Path</th><th scope="col">What it does</th></tr></thead>
                  <tbody>{d.endpoints.map((e) => <tr key={e.method + e.path}><td><code>{e.method}</code></td><td><code>{e.path}</code></td><td>{e.description}</td></tr>)}</tbody>
                </table>
              </TableWrap>
            </section>
            {d.unsupported.length > 0 && (
              <section>
                <h2>Not supported</h2>
                <TableWrap label="Unsupported endpoints">
                  <table>
                    <thead><tr><th scope="col">Path</th><th scope="col">Use instead</th></tr></thead>
                    <tbody>{d.unsupported.map((u) => <tr key={u.path}><td><code>{u.path}</code></td><td>{u.alternative}</td></tr>)}</tbody>
                  </table>
                </TableWrap>
              </section>
            )}
            <section>
              <h2>Rate limits by tier</h2>
              <TableWrap label="Tiers">
                <table>
                  <thead><tr><th scope="col">Tier</th><th scope="col" class="num">Requests / min</th><th scope="col" class="num">Tokens / min</th><th scope="col" class="num">Concurrent</th></tr></thead>
                  <tbody>{d.tiers.map((t) => <tr key={t.name}><th scope="row">{t.name}</th><td class="num">{count(t.requests_per_minute)}</td><td class="num">{count(t.tokens_per_minute)}</td><td class="num">{count(t.concurrent_requests)}</td></tr>)}</tbody>
                </table>
              </TableWrap>
            </section>
            <section>
              <h2>Streaming</h2>
              <p class="prose">{d.streaming}</p>
              <h2>Usage and billing</h2>
              <p class="prose">{d.usage}</p>
            </section>
            <section>
              <h2>Errors</h2>
              <p>Every error has OpenAI's shape: <code>{'{"error": {"message", "type", "param", "code"}}'}</code>.</p>
              <TableWrap label="Errors">
                <table>
                  <thead><tr><th scope="col" class="num">Status</th><th scope="col">Type</th><th scope="col">Code</th><th scope="col">When</th></tr></thead>
                  <tbody>{d.errors.map((e, i) => <tr key={i}><td class="num">{e.status}</td><td><code>{e.type}</code></td><td>{e.code ? <code>{e.code}</code> : '—'}</td><td>{e.when}</td></tr>)}</tbody>
                </table>
              </TableWrap>
            </section>
          </>
        )}
      </LoadState>
    </>
  );
}
