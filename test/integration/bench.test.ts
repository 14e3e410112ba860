// The benchmark's --quick mode as a smoke test: every process starts, every phase runs, the table and the
// JSON come out, everything stops. It asserts nothing about speed (figures from a loaded CI box mean little).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/gateway.js';

describe('npm run bench -- --quick', () => {
  it('runs every phase against real processes and writes the results', () => {
    const res = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'bench', 'run.js'), '--quick'], { encoding: 'utf8', timeout: 150_000 });
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toContain('| 50 connections: req/s |');
    const file = join(REPO_ROOT, 'bench', 'results', 'quick.json');
    expect(existsSync(file)).toBe(true);
    const result = JSON.parse(readFileSync(file, 'utf8'));
    expect(result.mode).toBe('quick');
    expect(result.machine.cores).toBeGreaterThan(0);
    for (const key of ['direct', 'passthrough', 'floodgate']) {
      expect(result.sequential[key].n, key).toBeGreaterThan(0);
      expect(result.load_50[key].requests_per_s, key).toBeGreaterThan(0);
      expect(result.load_50[key].non_2xx, key).toBe(0);
      expect(result.streaming[key].ttfb.n, key).toBeGreaterThan(0);
    }
    // The Responses API's row: the same gateway through the door, every request answered.
    expect(res.stdout).toContain('| throughput / chat completions |');
    expect(result.sequential.responses.n).toBeGreaterThan(0);
    expect(result.load_50.responses.requests_per_s).toBeGreaterThan(0);
    expect(result.load_50.responses.non_2xx).toBe(0);
    expect(result.ratios.throughput_responses_over_chat).toBeGreaterThan(0);
    expect(result.memory_mb.open_streams).toBe(result.settings.openStreams);
    expect(result.ratios.throughput_floodgate_over_passthrough).toBeGreaterThan(0);
  }, 160_000);
});
