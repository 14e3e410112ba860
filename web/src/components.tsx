// Pieces the pages share: formatting of money, numbers and times; labelled fields; a live status line;
// a copy button; code samples in tabs; a loader hook.
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './api';

/** Micro-units as money, exact (integer arithmetic): 2 decimals at least, up to 6 when they matter. */
export function formatMicros(micros: number, symbol = '$'): string {
  const negative = micros < 0;
  const abs = Math.abs(Math.trunc(micros));
  const whole = Math.floor(abs / 1_000_000);
  let fraction = String(abs % 1_000_000).padStart(6, '0');
  while (fraction.length > 2 && fraction.endsWith('0')) fraction = fraction.slice(0, -1);
  return `${negative ? '−' : ''}${symbol}${whole.toLocaleString('en-US')}.${fraction}`;
}

/** A price in currency units (per million tokens or per unit), as the config states it. */
export function formatPrice(value: number | undefined): string {
  if (value === undefined || value === null) return '—';
  // Every digit the config has (0.125 stays 0.125), at least two.
  return `$${value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 10 })}`;
}

export function formatNumber(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : value.toLocaleString('en-US');
}

/** Context sizes and token counts in short form: 128k, 1M. */
export function formatTokens(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (value >= 1_000_000 && value % 1_000_000 === 0) return `${value / 1_000_000}M`;
  if (value >= 1000 && value % 1000 === 0) return `${value / 1000}k`;
  if (value >= 1024 && value % 1024 === 0) return `${value / 1024}K`;
  return value.toLocaleString('en-US');
}

export function toMillis(value: number | string | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number') return value < 1e11 ? value * 1000 : value;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed;
}

export function formatTime(value: number | string | null | undefined): string {
  const ms = toMillis(value);
  if (ms === null) return '—';
  return new Date(ms).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

type InputProps = JSX.InputHTMLAttributes<HTMLInputElement> & { label: string; hint?: string };

let fieldCounter = 0;
function useFieldId(): string {
  const ref = useRef<string>();
  if (!ref.current) ref.current = `f${++fieldCounter}`;
  return ref.current;
}

/** An input with its label (and hint) tied to it. */
export function Field({ label, hint, ...input }: InputProps) {
  const id = useFieldId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...input} />
      {hint && <small id={`${id}-hint`} class="hint">{hint}</small>}
    </div>
  );
}

type SelectProps = JSX.SelectHTMLAttributes<HTMLSelectElement> & { label: string; options: { value: string; label: string }[] };

export function SelectField({ label, options, ...select }: SelectProps) {
  const id = useFieldId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} {...select}>
        {options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
      </select>
    </div>
  );
}

export type Status = { kind: 'error' | 'ok' | 'info'; text: string } | null;

/** The result of an action, read out by screen readers when it changes. */
export function StatusLine({ status }: { status: Status }) {
  return (
    <p class={`status ${status ? status.kind : ''}`} role={status?.kind === 'error' ? 'alert' : 'status'} aria-live="polite">
      {status?.text ?? ''}
    </p>
  );
}

export function errorStatus(error: unknown): Status {
  return { kind: 'error', text: errorText(error) };
}

/** Copies text with the Clipboard API, or by selecting a hidden textarea where that API is missing. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch { /* fall through to the old way */ }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  let copied = false;
  try { copied = document.execCommand('copy'); } catch { copied = false; }
  area.remove();
  return copied;
}

export function CopyButton({ text, label = 'Copy', testid }: { text: string; label?: string; testid?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const onClick = async () => {
    setState((await copyText(text)) ? 'copied' : 'failed');
    setTimeout(() => setState('idle'), 2500);
  };
  return (
    <span class="copy">
      <button type="button" class="secondary small" data-testid={testid} onClick={onClick}>{label}</button>
      <span class="copy-result" aria-live="polite">{state === 'copied' ? 'Copied' : state === 'failed' ? 'Select and copy by hand' : ''}</span>
    </span>
  );
}

/** Code samples in tabs (arrow keys move between tabs, as the ARIA tabs pattern expects). */
export function CodeTabs({ samples, label }: { samples: { name: string; code: string }[]; label: string }) {
  const [active, setActive] = useState(0);
  const id = useFieldId();
  const tabs = useRef<(HTMLButtonElement | null)[]>([]);
  const onKey = (event: KeyboardEvent) => {
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    const next = (active + step + samples.length) % samples.length;
    setActive(next);
    tabs.current[next]?.focus();
  };
  const sample = samples[active];
  return (
    <div class="codetabs">
      <div role="tablist" aria-label={label} onKeyDown={onKey}>
        {samples.map((s, i) => (
          <button
            key={s.name} type="button" role="tab" id={`${id}-tab-${i}`} aria-selected={i === active}
            aria-controls={`${id}-panel`} tabIndex={i === active ? 0 : -1}
            ref={(el) => { tabs.current[i] = el; }} onClick={() => setActive(i)}
          >{s.name}</button>
        ))}
      </div>
      <div role="tabpanel" id={`${id}-panel`} aria-labelledby={`${id}-tab-${active}`} class="codepanel">
        <pre tabIndex={0}><code>{sample.code}</code></pre>
        <CopyButton text={sample.code} label={`Copy ${sample.name}`} />
      </div>
    </div>
  );
}

export interface Loaded<T> { data: T | null; error: string | null; loading: boolean; reload: () => void }

/** Runs a loader on mount and whenever its dependencies change; reload() runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: string | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => { if (live) setState({ data, error: null, loading: false }); },
      (error: unknown) => { if (live) setState({ data: null, error: errorText(error), loading: false }); },
    );
    return () => { live = false; };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function LoadState({ loaded, children }: { loaded: Loaded<unknown>; children?: ComponentChildren }) {
  if (loaded.error) return <p class="status error" role="alert">{loaded.error}</p>;
  if (loaded.loading && !loaded.data) return <p class="muted" aria-live="polite">Loading…</p>;
  return <>{children}</>;
}

/** A table that scrolls sideways on narrow screens instead of squeezing its columns. */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return <div class="tablewrap" role="region" aria-label={label} tabIndex={0}>{children}</div>;
}
