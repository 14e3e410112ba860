// The logger's descriptor destination: lines batched into one write, written on a timer and at exit,
// kept (bounded) while the descriptor would block, and never lost in a short write.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogDestination } from '../../src/observability/log-destination.js';
import { createLogger } from '../../src/observability/logger.js';

const line = (i: number): string => `${JSON.stringify({ n: i, msg: 'x'.repeat(40) })}\n`;

/** A descriptor stand-in: records each write call; `refuse` makes the next calls throw EAGAIN; `short` caps bytes per call. */
function fakeFd(opts: { short?: number } = {}) {
  const writes: string[] = [];
  const state = { refuse: false };
  const writeSync = (_fd: number, data: Buffer): number => {
    if (state.refuse) throw Object.assign(new Error('EAGAIN: resource temporarily unavailable, write'), { code: 'EAGAIN' });
    const n = Math.min(data.length, opts.short ?? data.length);
    writes.push(data.subarray(0, n).toString('utf8'));
    return n;
  };
  return { writes, state, writeSync, text: () => writes.join('') };
}

const destinations: LogDestination[] = [];
function destination(...args: ConstructorParameters<typeof LogDestination>): LogDestination {
  const d = new LogDestination(...args);
  destinations.push(d);
  return d;
}

afterEach(() => {
  for (const d of destinations.splice(0)) d.end();
  vi.useRealTimers();
});

describe('LogDestination', () => {
  it('writes many lines with one call once a batch is full', () => {
    const fd = fakeFd();
    const d = destination(1, { batchChars: 1000, writeSync: fd.writeSync });
    let expected = '';
    for (let i = 0; i < 40; i++) {
      d.write(line(i));
      expected += line(i);
    }
    // 40 lines of ~60 chars: two full batches of ~17 lines went out, the rest waits for the timer.
    expect(fd.writes.length).toBe(2);
    d.flush();
    expect(fd.writes.length).toBe(3);
    expect(fd.text()).toBe(expected);
  });

  it('writes a batch that is not full after the flush interval', () => {
    vi.useFakeTimers();
    const fd = fakeFd();
    const d = destination(1, { flushMs: 200, writeSync: fd.writeSync });
    d.write(line(1));
    d.write(line(2));
    vi.advanceTimersByTime(199);
    expect(fd.writes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fd.writes).toEqual([line(1) + line(2)]);
  });

  it('writes a warning or an error at once, after the lines that came before it', () => {
    const fd = fakeFd();
    const d = destination(1, { writeSync: fd.writeSync });
    const info = '{"level":30,"time":"t","msg":"request"}\n';
    const warn = '{"level":40,"time":"t","msg":"store had no fingerprint"}\n';
    const error = '{"level":50,"time":"t","msg":"unexpected error"}\n';
    d.write(info);
    expect(fd.writes).toEqual([]);
    d.write(warn);
    expect(fd.writes).toEqual([info + warn]);
    d.write(error);
    expect(fd.writes).toEqual([info + warn, error]);
  });

  it('keeps the lines while the descriptor would block, and writes them in order when it takes writes again', () => {
    vi.useFakeTimers();
    const fd = fakeFd();
    const d = destination(1, { batchChars: 100, flushMs: 50, writeSync: fd.writeSync });
    fd.state.refuse = true;
    for (let i = 0; i < 10; i++) d.write(line(i));
    vi.advanceTimersByTime(500);
    expect(fd.writes).toEqual([]);
    fd.state.refuse = false;
    vi.advanceTimersByTime(50);
    expect(fd.text()).toBe(Array.from({ length: 10 }, (_, i) => line(i)).join(''));
  });

  it('drops lines past its bound while blocked, and says how many once it can write', () => {
    vi.useFakeTimers();
    const fd = fakeFd();
    const d = destination(1, { batchChars: 100, flushMs: 50, maxPendingChars: 500, writeSync: fd.writeSync });
    fd.state.refuse = true;
    let accepted = 0;
    for (let i = 0; i < 50; i++) if (d.write(line(i))) accepted++;
    expect(accepted).toBeLessThan(50);
    expect(d.droppedLines).toBe(50 - accepted);
    fd.state.refuse = false;
    vi.advanceTimersByTime(50);
    const out = fd.text().trim().split('\n').map((l) => JSON.parse(l) as { n?: number; dropped_lines?: number; msg: string });
    expect(out.filter((l) => l.n !== undefined).map((l) => l.n)).toEqual(Array.from({ length: accepted }, (_, i) => i));
    expect(out.at(-1)).toMatchObject({ dropped_lines: 50 - accepted, msg: expect.stringContaining('dropped') });
    expect(d.droppedLines).toBe(0);
  });

  it('finishes a short write before the next batch', () => {
    const fd = fakeFd({ short: 7 });
    const d = destination(1, { batchChars: 50, writeSync: fd.writeSync });
    for (let i = 0; i < 5; i++) d.write(line(i));
    d.flush();
    expect(fd.text()).toBe(Array.from({ length: 5 }, (_, i) => line(i)).join(''));
  });

  it('writes what waits when the process exits', () => {
    const fd = fakeFd();
    const d = destination(1, { writeSync: fd.writeSync });
    d.write(line(1));
    expect(fd.writes).toEqual([]);
    process.emit('exit', 0);
    expect(fd.writes).toEqual([line(1)]);
  });

  it('is what the logger writes through for a descriptor, redaction and format unchanged', () => {
    const dir = mkdtempSync(join(tmpdir(), 'floodgate-log-'));
    try {
      const file = join(dir, 'out.log');
      const fd = openSync(file, 'a');
      const logger = createLogger('info', fd);
      logger.info({ detail: 'key sk-abcdefghijklmnopqrstuvwxyz0123456789' }, 'hello');
      logger.flush();
      closeSync(fd);
      const parsed = JSON.parse(readFileSync(file, 'utf8').trim()) as Record<string, unknown>;
      expect(parsed).toMatchObject({ level: 30, service: 'floodgate', msg: 'hello' });
      expect(String(parsed.detail)).not.toContain('abcdefghijklmnop');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
