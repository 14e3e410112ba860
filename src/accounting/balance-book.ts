// Prepaid balances (SPEC §10): a request's maximum cost is reserved against `balance − reserved` before it
// is forwarded, and settled at its actual cost when it ends. One interface; this file is the in-process
// book of the embedded default (Redis holds reservations in the scale-out issue).
//
// The durable balance lives in the store. The book keeps, per account it has seen: the balance as last
// read from the store, the costs settled but not yet written by the usage writer (`pending`), and the
// reservations of requests in flight. Available = balance − pending − reserved; reserve and settle are
// synchronous after the account is loaded, so concurrent requests can never spend more than the balance.
// The store's balance changes behind the book's back only through ledger entries (admin API, CLI):
// balances are re-read every `refreshMs`, at once on `refresh`, and before any refusal.

export interface Reservation {
  accountId: string;
  amountMicros: number;
  settled: boolean;
}

export type ReserveResult = { ok: true; reservation: Reservation; remainingMicros?: number } | { ok: false; availableMicros: number };

/**
 * What one request reserves against one entry of the book: an account's balance (its id) or a budget's
 * period (`b:…`, accounting/budgets.ts). Every entry is kept alike: available = what the store allows −
 * settled but unwritten − reserved.
 */
export interface Hold {
  id: string;
  amountMicros: number;
}

/** All holds reserved, each with what its entry has left after it; or the first that did not fit. */
export type ReserveAllResult = { ok: true; reservations: Reservation[]; remainingMicros: number[] } | { ok: false; index: number; availableMicros: number };

export interface BalanceBook {
  /** Reserves `amountMicros` (≥ 0) against the account's available balance, or says what is available. */
  reserve(accountId: string, amountMicros: number): Promise<ReserveResult>;
  /**
   * Reserves every hold or none: a request with a balance and budgets (or two budgets) takes from each at
   * once, so no entry is held for a request another entry refuses. Holds of 0 reserve nothing but say
   * what is left.
   */
  reserveAll(holds: readonly Hold[]): Promise<ReserveAllResult>;
  /** Ends a reservation at the actual cost, which now waits for the usage writer. Idempotent. */
  settle(reservation: Reservation, costMicros: number): void;
  /** The usage writer is about to debit the store. */
  beginCommit(): void;
  /** The usage writer's debit is done (`ok`) or was rolled back (it will be tried again). */
  endCommit(debits: ReadonlyMap<string, number>, ok: boolean): void;
  /** Re-reads an account's balance from the store (after a ledger entry). */
  refresh(accountId: string): Promise<void>;
  close(): Promise<void>;
}

interface AccountBook {
  balance: number;
  pending: number;
  reserved: number;
  lastUsed: number;
}

/** Reads balances; accounts that do not exist are absent from the map. */
export type BalanceLoader = (accountIds: readonly string[]) => Promise<Map<string, number>>;

/** A read that raced with a commit is thrown away and made again, at most this many times. */
const READ_ATTEMPTS = 5;
/** Accounts unused this long (and holding nothing) are dropped from the book. */
const IDLE_MS = 5 * 60_000;
const REFRESH_CHUNK = 500;

export class MemoryBalanceBook implements BalanceBook {
  private readonly accounts = new Map<string, AccountBook>();
  private readonly loading = new Map<string, Promise<void>>();
  /** Bumped when a commit starts and ends: a balance read across either is stale. */
  private epoch = 0;
  private committing = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly load: BalanceLoader,
    refreshMs = 1000,
  ) {
    if (refreshMs > 0) {
      this.timer = setInterval(() => void this.refreshAll().catch(() => undefined), refreshMs);
      this.timer.unref();
    }
  }

  async reserve(accountId: string, amountMicros: number): Promise<ReserveResult> {
    if (amountMicros <= 0) return { ok: true, reservation: { accountId, amountMicros: 0, settled: false } };
    if (!this.accounts.has(accountId)) await this.read([accountId]);
    const first = this.tryReserve(accountId, amountMicros);
    if (first.ok) return first;
    // The store may know of a top-up the book has not seen yet: look once more before refusing.
    await this.read([accountId]);
    return this.tryReserve(accountId, amountMicros);
  }

  async reserveAll(holds: readonly Hold[]): Promise<ReserveAllResult> {
    // One entry at a time through `read`, which shares a read under way: a burst that finds a new period
    // (a budget's day has just begun) reads it once, not once per request.
    const missing = holds.filter((h) => !this.accounts.has(h.id));
    if (missing.length > 0) await Promise.all(missing.map((h) => this.read([h.id])));
    const first = this.tryReserveAll(holds);
    if (first.ok) return first;
    // A top-up or a raised cap the book has not seen yet: look once more before refusing.
    await Promise.all(holds.map((h) => this.read([h.id])));
    return this.tryReserveAll(holds);
  }

  /** Synchronous: checks every hold, then takes every one. */
  private tryReserveAll(holds: readonly Hold[]): ReserveAllResult {
    const now = Date.now();
    const remainingMicros: number[] = [];
    for (let i = 0; i < holds.length; i++) {
      const book = this.accounts.get(holds[i].id);
      if (book === undefined) return { ok: false, index: i, availableMicros: 0 };
      book.lastUsed = now;
      const available = book.balance - book.pending - book.reserved;
      // A hold of nothing always fits, as `reserve` has it (an entry may be below zero by a billing margin).
      if (holds[i].amountMicros > 0 && available < holds[i].amountMicros) return { ok: false, index: i, availableMicros: Math.max(0, available) };
      remainingMicros.push(available - holds[i].amountMicros);
    }
    const reservations = holds.map((h) => {
      this.accounts.get(h.id)!.reserved += h.amountMicros;
      return { accountId: h.id, amountMicros: h.amountMicros, settled: false };
    });
    return { ok: true, reservations, remainingMicros };
  }

  private tryReserve(accountId: string, amountMicros: number): ReserveResult {
    const book = this.accounts.get(accountId);
    if (book === undefined) return { ok: false, availableMicros: 0 };
    book.lastUsed = Date.now();
    const available = book.balance - book.pending - book.reserved;
    if (available < amountMicros) return { ok: false, availableMicros: Math.max(0, available) };
    book.reserved += amountMicros;
    return { ok: true, reservation: { accountId, amountMicros, settled: false }, remainingMicros: available - amountMicros };
  }

  settle(reservation: Reservation, costMicros: number): void {
    if (reservation.settled) return;
    reservation.settled = true;
    const book = this.accounts.get(reservation.accountId);
    if (book === undefined) return;
    book.reserved -= reservation.amountMicros;
    book.pending += costMicros;
  }

  beginCommit(): void {
    this.committing++;
    this.epoch++;
  }

  endCommit(debits: ReadonlyMap<string, number>, ok: boolean): void {
    this.committing--;
    this.epoch++;
    if (!ok) return;
    for (const [accountId, cost] of debits) {
      const book = this.accounts.get(accountId);
      if (book === undefined) continue;
      book.balance -= cost;
      book.pending -= cost;
    }
  }

  refresh(accountId: string): Promise<void> {
    return this.read([accountId]);
  }

  /** Reads balances from the store, retrying when a commit ran meanwhile; one read per account at a time. */
  private read(accountIds: readonly string[]): Promise<void> {
    if (accountIds.length === 1) {
      const id = accountIds[0];
      const running = this.loading.get(id);
      if (running) return running;
      const p = this.readNow(accountIds).finally(() => this.loading.delete(id));
      this.loading.set(id, p);
      return p;
    }
    return this.readNow(accountIds);
  }

  private async readNow(accountIds: readonly string[]): Promise<void> {
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const epoch = this.epoch;
      const quiet = this.committing === 0;
      const balances = await this.load(accountIds);
      // An account new to the book has nothing pending, so no commit can have moved its balance under
      // the read; one already in the book takes the read only if no commit started or ended meanwhile.
      const settled = quiet && this.committing === 0 && epoch === this.epoch;
      const now = Date.now();
      let stale = false;
      for (const id of accountIds) {
        const balance = balances.get(id) ?? 0;
        const book = this.accounts.get(id);
        if (book === undefined) this.accounts.set(id, { balance, pending: 0, reserved: 0, lastUsed: now });
        else if (settled) book.balance = balance;
        else stale = true;
      }
      if (!stale) return;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  private async refreshAll(): Promise<void> {
    const now = Date.now();
    const ids: string[] = [];
    for (const [id, book] of this.accounts) {
      if (book.reserved === 0 && book.pending === 0 && now - book.lastUsed > IDLE_MS) this.accounts.delete(id);
      else ids.push(id);
    }
    for (let i = 0; i < ids.length; i += REFRESH_CHUNK) await this.read(ids.slice(i, i + REFRESH_CHUNK));
  }

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    return Promise.resolve();
  }
}
