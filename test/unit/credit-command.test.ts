// The crediting command `floodgate serve` prints beside the first key (issue 15, item 5): only when the
// catalog is priced and the first account starts with nothing.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load.js';
import { creditCommand } from '../../src/cli/serve.js';
import { exampleConfig } from '../helpers/examples.js';
import { testConfig } from '../helpers/gateway.js';

describe('the crediting command printed on a first start', () => {
  it('is printed for a priced catalog whose accounts start empty, naming the config and data dir', () => {
    const config = resolveConfig(exampleConfig('flintapi'), 'flintapi.yaml', {}, {});
    expect(config.billing.initialCreditMicros).toBe(0);
    expect(creditCommand(config, { config: 'examples/flintapi.yaml', dataDir: '/srv/fg' })).toBe(
      'floodgate accounts credit default --amount 25.00 --reason "first top-up" --config examples/flintapi.yaml --data-dir /srv/fg',
    );
    expect(creditCommand(config, {})).toBe('floodgate accounts credit default --amount 25.00 --reason "first top-up"');
  });

  it('is not printed when the first account is credited at start (billing.initial_credit)', () => {
    const config = resolveConfig(exampleConfig('flowapi'), 'flowapi.yaml', {}, {});
    expect(config.billing.initialCreditMicros).toBe(10_000_000);
    expect(creditCommand(config, { config: 'examples/flowapi.yaml' })).toBeUndefined();
  });

  it('is not printed when nothing has a price', () => {
    const raw = testConfig({ billing: { initial_credit: 0 } });
    for (const model of raw.models) delete model.pricing;
    expect(creditCommand(resolveConfig(raw, 'test', {}, {}), {})).toBeUndefined();
    const zero = testConfig({ billing: { initial_credit: 0 } });
    for (const model of zero.models) model.pricing = { input: 0, output: 0 };
    expect(creditCommand(resolveConfig(zero, 'test', {}, {}), {})).toBeUndefined();
  });
});
