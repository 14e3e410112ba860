// Many requests' scripts in one Redis call (SPEC §11, §15). Admissions, settlements and slot releases
// queued in the same turn of the event loop go out together — while a call is on its way, after the
// I/O that turn handles (setImmediate); when none is, as soon as the current callback's promises have
// run (process.nextTick), since no other request is likely to join — as one EVALSHA of a script that runs each of them in order, each exactly as its own
// script would: the same keys, arguments, checks and writes, and its own reply. A batch is atomic as a
// whole, so nothing another instance does lands between two of its items — each item is still decided
// on what the ones before it left, as if they had been separate calls one after the other.
//
// Each operation is a script body written for KEYS and ARGV; here it becomes a Lua function whose
// parameters are named KEYS and ARGV, called once per item with that item's slices, after one TIME
// (`now`) for the whole batch. Under load that is one command, one script run and one reply to decode
// for a whole turn's requests instead of one of each per request; a lone request goes as before.
import type { Redis } from 'ioredis';

/** Lua: Redis's clock, in milliseconds, as `now` (every script starts with it). */
export const LUA_NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** The most items one call carries (a script run blocks Redis while it lasts). */
const MAX_ITEMS = 128;

/** The batch's command name on the client (sent at once, not auto-pipelined: see connection.ts). */
export const BATCH_COMMAND = 'floodgateBatch';

type Reply = (string | number)[] | number | string;

interface Item {
  op: number;
  keys: readonly string[];
  args: readonly (string | number)[];
  resolve: (reply: Reply) => void;
  reject: (err: unknown) => void;
}

interface BatchClient extends Redis {
  [BATCH_COMMAND](...args: (string | number)[]): Promise<Reply[]>;
}

/** One operation: its name and its body (a script that reads KEYS, ARGV and `now`, and returns its reply). */
export interface BatchOp {
  name: string;
  lua: string;
}

/**
 * The script over `ops`: ARGV[1] is the number of items, then per item its operation's index, its number
 * of keys and of arguments, and its arguments; KEYS are every item's keys, one after the other. Returns
 * the items' replies in order.
 */
export function batchScript(nowLua: string, ops: readonly BatchOp[]): string {
  const functions = ops.map((op, i) => `ops[${i + 1}] = function(KEYS, ARGV)\n${op.lua}\nend`).join('\n');
  return `${nowLua}
local ops = {}
${functions}
local out, ki, ai = {}, 0, 1
for j = 1, tonumber(ARGV[1]) do
  local op, nk, na = tonumber(ARGV[ai + 1]), tonumber(ARGV[ai + 2]), tonumber(ARGV[ai + 3])
  local k, a = {}, {}
  for x = 1, nk do k[x] = KEYS[ki + x] end
  for x = 1, na do a[x] = ARGV[ai + 3 + x] end
  ki, ai = ki + nk, ai + 3 + na
  out[j] = ops[op](k, a)
end
return out
`;
}

/** Queues script calls and sends each turn's in one command. */
export class ScriptBatch {
  private readonly client: BatchClient;
  private readonly ops: BatchOp[] = [];
  private readonly index = new Map<string, number>();
  private defined = false;
  private queue: Item[] = [];
  private scheduled = false;
  /** Calls sent and not yet answered. */
  private pending = 0;
  private readonly flushNow = (): void => this.flush();
  /** Calls sent, and the items they carried (for tests). */
  calls = 0;
  items = 0;

  constructor(client: Redis) {
    this.client = client as BatchClient;
  }

  /** Adds an operation (once per name; a name's body never changes). */
  register(op: BatchOp): void {
    if (this.index.has(op.name)) return;
    this.ops.push(op);
    this.index.set(op.name, this.ops.length);
    this.defined = false;
  }

  /** Runs operation `name` over `keys` and `args` in the next batch; its own reply, or the batch's error. */
  call<T extends Reply>(name: string, keys: readonly string[], args: readonly (string | number)[]): Promise<T> {
    const op = this.index.get(name);
    if (op === undefined) return Promise.reject(new Error(`no batched redis operation ${name}`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, keys, args, resolve: resolve as (reply: Reply) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // Nothing on its way: this one goes once the current callback's promises have run. Else the
        // turn's I/O is let in first (setImmediate), so the requests it brings ride in the same call.
        if (this.pending === 0) process.nextTick(this.flushNow);
        else setImmediate(this.flushNow);
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.queue;
    this.queue = [];
    if (!this.defined) {
      this.defined = true;
      this.client.defineCommand(BATCH_COMMAND, { lua: batchScript(LUA_NOW, this.ops) });
    }
    for (let i = 0; i < all.length; i += MAX_ITEMS) this.send(all.slice(i, i + MAX_ITEMS));
  }

  private send(items: Item[]): void {
    this.calls++;
    this.items += items.length;
    this.pending++;
    const keys: string[] = [];
    const args: (string | number)[] = [items.length];
    for (const item of items) {
      for (const k of item.keys) keys.push(k);
      args.push(item.op, item.keys.length, item.args.length);
      for (const a of item.args) args.push(a);
    }
    this.client[BATCH_COMMAND](keys.length, ...keys, ...args).then(
      (replies) => {
        this.pending--;
        for (let i = 0; i < items.length; i++) items[i].resolve(replies[i]);
      },
      (err: unknown) => {
        this.pending--;
        for (const item of items) item.reject(err);
      },
    );
  }
}

const batches = new WeakMap<Redis, ScriptBatch>();

/** The batch of the connection's command client (one per client, shared by the limiter, the book and admission). */
export function batchOf(client: Redis): ScriptBatch {
  let batch = batches.get(client);
  if (batch === undefined) {
    batch = new ScriptBatch(client);
    batches.set(client, batch);
  }
  return batch;
}
