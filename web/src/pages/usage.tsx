// The usage page: charts of requests, tokens and cost over a range, split by model or key, and the
// table of recent requests with filters and CSV export. The console reuses UsageCharts across accounts.
import { useMemo, useState } from 'preact/hooks';
import { api, apiUrl, chosenAccount, errorText, type KeyView, type RecordsPage, type UsageRecord, type UsageSeries } from '../api';
import { TimeChart, type ChartLine } from '../chart';
import { LoadState, SelectField, StatusLine, TableWrap, formatDuration, formatMicros, formatNumber, formatTime, toMillis, useLoad, type Status } from '../components';
import { useShared } from '../state';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const RANGES = [
  { value: '24h', label: 'Last 24 hours' },
  { value: '7d', label: 'Last 7 days' },
  { value: '30d', label: 'Last 30 days' },
  { value: 'custom', label: 'Custom' },
];

/** Aligns sparse series on one time axis (every bucket of the range), zero where a bucket had nothing. */
function align(result: UsageSeries) {
  const step = result.bucket === 'day' ? DAY : HOUR;
  const pointTimes = result.series.flatMap((s) => s.points.map((p) => toMillis(p.t) ?? 0));
  let from = toMillis(result.from) ?? Math.min(...pointTimes);
  const to = toMillis(result.to) ?? Math.max(...pointTimes);
  from = Math.floor(from / step) * step;
  const times: number[] = [];
  if (Number.isFinite(from) && Number.isFinite(to)) for (let t = from; t <= to && times.length < 5000; t += step) times.push(t);
  const index = new Map(times.map((t, i) => [t, i]));
  const blank = () => new Array<number>(times.length).fill(0);
  const perSeries = result.series.map((s) => {
    const columns = { requests: blank(), prompt: blank(), cached: blank(), completion: blank(), cost: blank() };
    for (const p of s.points) {
      const at = index.get(Math.floor((toMillis(p.t) ?? 0) / step) * step);
      if (at === undefined) continue;
      columns.requests[at] += p.requests;
      columns.prompt[at] += p.prompt_tokens;
      columns.cached[at] += p.cached_tokens;
      columns.completion[at] += p.completion_tokens;
      columns.cost[at] += p.cost_micros;
    }
    return { name: s.name, ...columns };
  });
  const sum = (pick: (s: (typeof perSeries)[number]) => number[]) => times.map((_, i) => perSeries.reduce((a, s) => a + pick(s)[i], 0));
  return {
    times,
    requests: perSeries.map((s): ChartLine => ({ label: s.name, values: s.requests })),
    cost: perSeries.map((s): ChartLine => ({ label: s.name, values: s.cost })),
    tokens: [
      { label: 'input', values: sum((s) => s.prompt) },
      { label: 'output', values: sum((s) => s.completion) },
      { label: 'cached input', values: sum((s) => s.cached) },
    ] as ChartLine[],
    totalRequests: perSeries.reduce((a, s) => a + s.requests.reduce((x, y) => x + y, 0), 0),
  };
}

const countFormat = (v: number) => (Math.abs(v) >= 10_000 ? `${(v / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })}k` : v.toLocaleString('en-US', { maximumFractionDigits: 2 }));
const costFormat = (v: number) => formatMicros(Math.round(v));

function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function UsageCharts({ path, groups, title }: { path: string; groups: { value: string; label: string }[]; title?: string }) {
  const [range, setRange] = useState('7d');
  const [bucket, setBucket] = useState('hour');
  const [groupBy, setGroupBy] = useState(groups[0].value);
  const [from, setFrom] = useState(() => localInput(Date.now() - 7 * DAY));
  const [to, setTo] = useState(() => localInput(Date.now()));
  const query = {
    range, bucket, group_by: groupBy,
    from: range === 'custom' ? new Date(from).toISOString() : undefined,
    to: range === 'custom' ? new Date(to).toISOString() : undefined,
  };
  const series = useLoad(() => api<UsageSeries>(path, { query }), [path, range, bucket, groupBy, range === 'custom' ? from : '', range === 'custom' ? to : '', chosenAccount()]);
  const aligned = useMemo(() => (series.data ? align(series.data) : null), [series.data]);
  const select = (set: (v: string) => void) => (e: Event) => set((e.currentTarget as HTMLSelectElement).value);
  return (
    <section aria-labelledby="charts-title">
      <h2 id="charts-title">{title ?? 'Over time'}</h2>
      <div class="row-form">
        <SelectField label="Range" options={RANGES} value={range} onChange={select((v) => { setRange(v); if (v === '30d') setBucket('day'); })} data-testid="usage-range" />
        {range === 'custom' && (
          <>
            <div class="field"><label for="usage-from">From</label><input id="usage-from" type="datetime-local" value={from} onChange={(e) => setFrom((e.currentTarget as HTMLInputElement).value)} /></div>
            <div class="field"><label for="usage-to">To</label><input id="usage-to" type="datetime-local" value={to} onChange={(e) => setTo((e.currentTarget as HTMLInputElement).value)} /></div>
          </>
        )}
        <SelectField label="Bucket" options={[{ value: 'hour', label: 'Hour' }, { value: 'day', label: 'Day' }]} value={bucket} onChange={select(setBucket)} data-testid="usage-bucket" />
        <SelectField label="Split by" options={groups} value={groupBy} onChange={select(setGroupBy)} data-testid="usage-group" />
      </div>
      <LoadState loaded={series}>
        {aligned && (
          <div class="charts" data-testid="usage-chart" data-requests={aligned.totalRequests}>
            {aligned.totalRequests === 0 && <p class="muted">No requests in this range yet.</p>}
            <TimeChart title="Requests" times={aligned.times} lines={aligned.requests} format={countFormat} />
            <TimeChart title="Tokens" times={aligned.times} lines={aligned.tokens} format={countFormat} />
            <TimeChart title="Cost" times={aligned.times} lines={aligned.cost} format={costFormat} />
          </div>
        )}
      </LoadState>
    </section>
  );
}

export function Usage() {
  const { session } = useShared();
  const keys = useLoad(() => api<{ data: KeyView[] }>('/keys'), [session?.account?.id]);
  const [model, setModel] = useState('');
  const [keyId, setKeyId] = useState('');
  const [status, setStatus] = useState('');
  const [older, setOlder] = useState<UsageRecord[]>([]);
  const [hasMore, setHasMore] = useState<boolean | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [note, setNote] = useState<Status>(null);
  const filters = { model: model.trim() || undefined, key_id: keyId || undefined, status: status || undefined };
  const records = useLoad(async () => {
    setOlder([]);
    setHasMore(null);
    setCursor(null);
    return api<RecordsPage>('/usage/records', { query: { limit: 50, ...filters } });
  }, [model, keyId, status, session?.account?.id]);
  const rows = [...(records.data?.data ?? []), ...older];
  const more = hasMore ?? records.data?.has_more ?? false;
  const csvHref = apiUrl('/usage/records', { format: 'csv', ...filters });

  const loadMore = async () => {
    const before = cursor ?? records.data?.next_before ?? rows[rows.length - 1]?.created_at;
    if (!before) return;
    try {
      const page = await api<RecordsPage>('/usage/records', { query: { limit: 50, before, ...filters } });
      setOlder((o) => [...o, ...page.data]);
      setHasMore(page.has_more);
      setCursor(page.next_before ?? page.data[page.data.length - 1]?.created_at ?? null);
    } catch (error) {
      setNote({ kind: 'error', text: errorText(error) });
    }
  };

  // A plain link cannot send the chosen account's header: with several accounts, download through fetch.
  const onCsv = async (event: MouseEvent) => {
    const account = chosenAccount();
    if (!account) return;
    event.preventDefault();
    try {
      const response = await fetch(csvHref, { credentials: 'same-origin', headers: { 'x-floodgate-account': account } });
      if (!response.ok) throw new Error(`The export failed (${response.status}).`);
      const url = URL.createObjectURL(await response.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = 'usage.csv';
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (error) {
      setNote({ kind: 'error', text: errorText(error) });
    }
  };

  const keyOptions = [{ value: '', label: 'All keys' }, ...(keys.data?.data ?? []).map((k) => ({ value: k.id, label: `${k.name ?? 'unnamed'} (${k.hint})` }))];
  const keyHint = (r: UsageRecord) => r.key_hint ?? keys.data?.data.find((k) => k.id === r.key_id)?.hint ?? r.key_id ?? '—';
  return (
    <>
      <h1>Usage</h1>
      <UsageCharts path="/usage/series" groups={[{ value: 'model', label: 'Model' }, { value: 'key', label: 'Key' }, { value: 'none', label: 'Nothing' }]} />
      <section aria-labelledby="requests-title">
        <h2 id="requests-title">Recent requests</h2>
        <div class="row-form">
          <div class="field"><label for="filter-model">Model</label><input id="filter-model" type="search" placeholder="any" value={model} onChange={(e) => setModel((e.currentTarget as HTMLInputElement).value)} /></div>
          <SelectField label="Key" options={keyOptions} value={keyId} onChange={(e) => setKeyId((e.currentTarget as HTMLSelectElement).value)} />
          <SelectField label="Status" options={[{ value: '', label: 'Any' }, { value: 'ok', label: 'Succeeded' }, { value: 'error', label: 'Failed' }]} value={status} onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value)} />
          <a class="button secondary" href={csvHref} download="usage.csv" data-testid="usage-csv" onClick={onCsv}>Export CSV</a>
        </div>
        <StatusLine status={note} />
        <LoadState loaded={records}>
          <TableWrap label="Recent requests">
            <table data-testid="usage-table">
              <thead>
                <tr>
                  <th scope="col">Time</th><th scope="col">Model</th><th scope="col">Key</th><th scope="col" class="num">Status</th>
                  <th scope="col" class="num">Input</th><th scope="col" class="num">Cached</th><th scope="col" class="num">Output</th>
                  <th scope="col" class="num">Cost</th><th scope="col" class="num">Latency</th><th scope="col" class="num">First token</th>
                  <th scope="col">Request id</th><th scope="col">Settled</th>
                </tr>
              </thead>
              <tbody>
                {rows.length === 0 && <tr><td colSpan={12} class="muted">No requests yet. Make one with a key and it appears here.</td></tr>}
                {rows.map((r) => (
                  <tr key={r.request_id} data-testid="usage-row" data-request-id={r.request_id}>
                    <td>{formatTime(r.created_at)}</td>
                    <td>{r.model}</td>
                    <td><code>{keyHint(r)}</code></td>
                    <td class={`num ${r.status >= 400 ? 'neg' : ''}`}>{r.status}</td>
                    <td class="num">{formatNumber(r.prompt_tokens)}</td>
                    <td class="num">{formatNumber(r.cached_tokens)}</td>
                    <td class="num">{formatNumber(r.completion_tokens)}</td>
                    <td class="num">{formatMicros(r.cost_micros)}</td>
                    <td class="num">{formatDuration(r.latency_ms)}</td>
                    <td class="num">{formatDuration(r.ttft_ms)}</td>
                    <td><code class="small">{r.request_id}</code></td>
                    <td>{r.settle ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          {more && <button type="button" class="secondary" onClick={loadMore}>Older requests</button>}
        </LoadState>
      </section>
    </>
  );
}
