// `floodgate usage`: requests, tokens and cost per account, key, model and time range — totals and time
// buckets — on the store directly, through the admin operation behind GET /admin/v1/usage.
import type { Command } from 'commander';
import { checkUsageQuerySpec, queryUsage } from '../admin/operations.js';
import { formatMicros } from '../admin/money.js';
import { parseDuration, TimeFormatError, unixSecondsExact } from '../admin/time.js';
import { usageReportView } from '../admin/views.js';
import type { UsageTotals } from '../store/usage.js';
import { adminContext, addStoreOptions, formatTable, formatTime, processOutput, runCliAction, withStore, type CliOutput, type StoreCommandOptions } from './store-context.js';

interface UsageOptions extends StoreCommandOptions {
  account?: string;
  key?: string;
  model?: string;
  since?: string;
  until?: string;
  bucket: string;
  json?: boolean;
}

const FLAGS = { account_id: '--account', key_id: '--key', model: '--model', start: '--since', end: '--until', bucket: '--bucket' };

/** `24h`, `7d` (that long ago) as unix seconds; anything else goes on as a time for the operation to read. */
function timeFlag(text: string | undefined, now: number): string | undefined {
  if (text === undefined || !/^\d+[smhdw]$/.test(text)) return text;
  try {
    return String(unixSecondsExact(now - parseDuration(text)));
  } catch (err) {
    if (err instanceof TimeFormatError) return text;
    throw err;
  }
}

function totalsRow(first: string, t: UsageTotals): string[] {
  return [first, String(t.requests), String(t.promptTokens), String(t.cachedTokens), String(t.completionTokens), String(t.reasoningTokens), formatMicros(t.costMicros)];
}

export function registerUsageCommand(program: Command, io: CliOutput = processOutput): void {
  addStoreOptions(
    program
      .command('usage')
      .description('usage totals and time buckets (requests, tokens, cost) per account, key, model and time range')
      .option('--account <id|name>', 'only this account')
      .option('--key <id>', 'only this API key (key_…)')
      .option('--model <id>', 'only this model (catalog id or alias)')
      .option('--since <time>', 'from this time on: ISO 8601, unix seconds, or a duration ago (24h, 7d)')
      .option('--until <time>', 'before this time: ISO 8601, unix seconds, or a duration ago')
      .option('--bucket <size>', 'bucket size: minute, hour or day (UTC)', 'day')
      .option('--json', 'print JSON (as the admin API’s GET /admin/v1/usage)'),
  )
    .addHelpText('after', '\nExamples:\n  floodgate usage --since 7d\n  floodgate usage --account acme --model sim-chat --since 2025-01-01 --until 2025-02-01 --bucket day')
    .action((opts: UsageOptions) =>
      runCliAction(
        io,
        async () => {
          const now = Date.now();
          const spec = checkUsageQuerySpec({
            account_id: opts.account,
            key_id: opts.key,
            model: opts.model,
            start: timeFlag(opts.since, now),
            end: timeFlag(opts.until, now),
            bucket: opts.bucket,
          });
          await withStore(opts, async (ctx) => {
            const report = await queryUsage(adminContext(ctx), spec);
            if (opts.json) {
              io.out(JSON.stringify(usageReportView(report), null, 2));
              return;
            }
            const rows = report.buckets.map((b) => totalsRow(formatTime(b.start), b));
            rows.push(totalsRow('TOTAL', report.totals));
            for (const line of formatTable([`${report.bucket.toUpperCase()} (UTC)`, 'REQUESTS', 'PROMPT', 'CACHED', 'COMPLETION', 'REASONING', 'COST'], rows)) io.out(line);
          });
        },
        FLAGS,
      ),
    );
}
