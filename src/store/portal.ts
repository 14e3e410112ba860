// The portal's store (SPEC §14, issue 14): people, their sessions and account memberships, and the codes
// an admin hands out — redemption codes (one credit each, exactly once) and invite codes (one sign-up each).
import { sql, type ColumnType, type Kysely, type Selectable } from 'kysely';
import { randomBase62 } from '../openai/ids.js';
import { isUniqueViolation, toNumber, type Database } from './database.js';
import { recordLedgerEntryIn, type LedgerEntry } from './ledger.js';
import { AlreadyExistsError } from './store.js';

type Millis = ColumnType<number | string, number, never>;
type NullableMillis = ColumnType<number | string | null, number | null | undefined, number | null>;

export type PortalRole = 'user' | 'admin';
export type MemberRole = 'owner' | 'member';

export interface PortalUsersTable {
  id: string;
  /** Lower-cased; unique. */
  email: string;
  /** `scrypt$N$r$p$salt_b64$hash_b64`, made and checked by the server (src/portal/sessions.ts). */
  password_hash: string;
  role: PortalRole;
  created_at: Millis;
}

export interface AccountMembersTable {
  account_id: string;
  user_id: string;
  role: MemberRole;
  created_at: Millis;
}

export interface PortalSessionsTable {
  /** HMAC-SHA-256 of the session id under the pepper (hex): the cookie's value is never stored. */
  id_hash: string;
  /** Null for a session opened with the admin token. */
  user_id: string | null;
  /** 0 or 1 (portable boolean). */
  admin: number;
  csrf_token: string;
  created_at: Millis;
  expires_at: Millis;
  last_seen_at: ColumnType<number | string, number, number>;
}

export interface RedemptionCodesTable {
  code_hash: string;
  hint: string;
  amount_micros: Millis;
  created_at: Millis;
  expires_at: NullableMillis;
  redeemed_at: NullableMillis;
  /** The account the code credited. */
  account_id: string | null;
  batch: string;
  created_by: string;
}

export interface InviteCodesTable {
  code_hash: string;
  hint: string;
  created_at: Millis;
  expires_at: NullableMillis;
  used_at: NullableMillis;
  used_by: string | null;
  created_by: string;
}

/** The tables of migration 006 (usage_hourly is in usage-rollup.ts). */
export interface PortalTables {
  portal_users: PortalUsersTable;
  account_members: AccountMembersTable;
  portal_sessions: PortalSessionsTable;
  redemption_codes: RedemptionCodesTable;
  invite_codes: InviteCodesTable;
}

// ---- people ----------------------------------------------------------------------------------------

export interface PortalUser {
  id: string;
  email: string;
  /** Server-side only: a view never carries it. */
  passwordHash: string;
  role: PortalRole;
  createdAt: number;
}

export interface NewPortalUser {
  /** Given when the caller needs the id before the row exists (an invite code used in the same transaction). */
  id?: string;
  email: string;
  passwordHash: string;
  role?: PortalRole;
}

export interface PortalUserRepository {
  /** Throws AlreadyExistsError when the email (compared lower-cased) is taken. */
  create(input: NewPortalUser, now?: number): Promise<PortalUser>;
  findByEmail(email: string): Promise<PortalUser | undefined>;
  get(id: string): Promise<PortalUser | undefined>;
  /** False when there is no such person. */
  updatePassword(id: string, passwordHash: string): Promise<boolean>;
  setRole(id: string, role: PortalRole): Promise<PortalUser | undefined>;
  /** Oldest first; `q` matches part of the email (case-insensitive). */
  list(filter?: { q?: string; limit?: number }): Promise<PortalUser[]>;
  /** Ends the person's sessions and memberships too; false when there was no such person. */
  delete(id: string): Promise<boolean>;
}

export const USER_ID_PREFIX = 'usr_';

export function newUserId(): string {
  return USER_ID_PREFIX + randomBase62(20);
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function toPortalUser(row: Selectable<PortalUsersTable>): PortalUser {
  return { id: row.id, email: row.email, passwordHash: row.password_hash, role: row.role, createdAt: toNumber(row.created_at) };
}

/** `%`, `_` and the escape itself taken literally in a LIKE pattern. */
function likePattern(text: string): string {
  return '%' + text.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
}

export function portalUserRepository(db: Kysely<Database>): PortalUserRepository {
  const get = async (id: string) => {
    const row = await db.selectFrom('portal_users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toPortalUser(row);
  };
  return {
    async create(input, now = Date.now()) {
      const row = { id: input.id ?? newUserId(), email: normalizeEmail(input.email), password_hash: input.passwordHash, role: input.role ?? 'user', created_at: now };
      try {
        await db.insertInto('portal_users').values(row).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new AlreadyExistsError('a person with this email already exists', { cause: err });
        throw err;
      }
      return toPortalUser(row);
    },
    async findByEmail(email) {
      const row = await db.selectFrom('portal_users').selectAll().where('email', '=', normalizeEmail(email)).executeTakeFirst();
      return row && toPortalUser(row);
    },
    get,
    async updatePassword(id, passwordHash) {
      const result = await db.updateTable('portal_users').set({ password_hash: passwordHash }).where('id', '=', id).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async setRole(id, role) {
      await db.updateTable('portal_users').set({ role }).where('id', '=', id).execute();
      return get(id);
    },
    async list(filter = {}) {
      let query = db.selectFrom('portal_users').selectAll();
      if (filter.q !== undefined && filter.q !== '') query = query.where(sql<boolean>`lower(email) like ${likePattern(filter.q.toLowerCase())} escape '\\'`);
      const rows = await query
        .orderBy('created_at')
        .orderBy('id')
        .limit(filter.limit ?? 1000)
        .execute();
      return rows.map(toPortalUser);
    },
    async delete(id) {
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom('portal_sessions').where('user_id', '=', id).execute();
        await trx.deleteFrom('account_members').where('user_id', '=', id).execute();
        const result = await trx.deleteFrom('portal_users').where('id', '=', id).executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      });
    },
  };
}

// ---- account membership ----------------------------------------------------------------------------

export interface Membership {
  accountId: string;
  accountName: string;
  role: MemberRole;
  createdAt: number;
}

export interface Member {
  userId: string;
  email: string;
  role: MemberRole;
  createdAt: number;
}

export interface MemberRepository {
  /** Throws AlreadyExistsError when the person is already a member of the account. */
  add(accountId: string, userId: string, role: MemberRole, now?: number): Promise<void>;
  /** False when the person was not a member. */
  remove(accountId: string, userId: string): Promise<boolean>;
  /** The person's accounts, the one joined first first (the portal's default account). */
  listForUser(userId: string): Promise<Membership[]>;
  /** Owners first, then by joining time. */
  listForAccount(accountId: string): Promise<Member[]>;
  /** The members' emails of each of `accountIds` (the admin console's account list), in one query. */
  emailsForAccounts(accountIds: readonly string[]): Promise<Map<string, string[]>>;
  role(accountId: string, userId: string): Promise<MemberRole | undefined>;
}

export function memberRepository(db: Kysely<Database>): MemberRepository {
  return {
    async add(accountId, userId, role, now = Date.now()) {
      try {
        await db.insertInto('account_members').values({ account_id: accountId, user_id: userId, role, created_at: now }).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new AlreadyExistsError('already a member of this account', { cause: err });
        throw err;
      }
    },
    async remove(accountId, userId) {
      const result = await db.deleteFrom('account_members').where('account_id', '=', accountId).where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async listForUser(userId) {
      const rows = await db
        .selectFrom('account_members as m')
        .innerJoin('accounts as a', 'a.id', 'm.account_id')
        .select(['m.account_id', 'a.name', 'm.role', 'm.created_at'])
        .where('m.user_id', '=', userId)
        .orderBy('m.created_at')
        .orderBy('m.account_id')
        .execute();
      return rows.map((r) => ({ accountId: r.account_id, accountName: r.name, role: r.role, createdAt: toNumber(r.created_at) }));
    },
    async listForAccount(accountId) {
      const rows = await db
        .selectFrom('account_members as m')
        .innerJoin('portal_users as u', 'u.id', 'm.user_id')
        .select(['m.user_id', 'u.email', 'm.role', 'm.created_at'])
        .where('m.account_id', '=', accountId)
        // 'member' > 'owner' alphabetically: descending puts owners first.
        .orderBy('m.role', 'desc')
        .orderBy('m.created_at')
        .execute();
      return rows.map((r) => ({ userId: r.user_id, email: r.email, role: r.role, createdAt: toNumber(r.created_at) }));
    },
    async emailsForAccounts(accountIds) {
      const out = new Map<string, string[]>();
      if (accountIds.length === 0) return out;
      const rows = await db
        .selectFrom('account_members as m')
        .innerJoin('portal_users as u', 'u.id', 'm.user_id')
        .select(['m.account_id', 'u.email'])
        .where('m.account_id', 'in', [...accountIds])
        .orderBy('m.created_at')
        .execute();
      for (const r of rows) out.set(r.account_id, [...(out.get(r.account_id) ?? []), r.email]);
      return out;
    },
    async role(accountId, userId) {
      const row = await db.selectFrom('account_members').select('role').where('account_id', '=', accountId).where('user_id', '=', userId).executeTakeFirst();
      return row?.role;
    },
  };
}

// ---- sessions --------------------------------------------------------------------------------------

export interface PortalSession {
  idHash: string;
  userId: string | null;
  admin: boolean;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
  lastSeenAt: number;
}

export interface NewPortalSession {
  idHash: string;
  userId: string | null;
  admin: boolean;
  csrfToken: string;
  expiresAt: number;
}

/** `touch` writes at most once per this interval: a page load makes several API calls. */
export const SESSION_TOUCH_INTERVAL_MS = 60_000;

export interface PortalSessionRepository {
  create(input: NewPortalSession, now?: number): Promise<PortalSession>;
  /** The session with this id hash when it has not expired at `now`. */
  findValid(idHash: string, now?: number): Promise<PortalSession | undefined>;
  /** Sets last_seen_at to `now` when it is older than SESSION_TOUCH_INTERVAL_MS; whether it wrote. */
  touch(idHash: string, now?: number): Promise<boolean>;
  /** False when there was no such session. */
  delete(idHash: string): Promise<boolean>;
  /** Ends the person's sessions but `exceptIdHash` (a password change keeps the session that made it); how many. */
  deleteForUser(userId: string, exceptIdHash?: string): Promise<number>;
  /** Deletes every session expired at `now`; how many. */
  purgeExpired(now?: number): Promise<number>;
}

function toSession(row: Selectable<PortalSessionsTable>): PortalSession {
  return {
    idHash: row.id_hash,
    userId: row.user_id,
    admin: Number(row.admin) === 1,
    csrfToken: row.csrf_token,
    createdAt: toNumber(row.created_at),
    expiresAt: toNumber(row.expires_at),
    lastSeenAt: toNumber(row.last_seen_at),
  };
}

export function portalSessionRepository(db: Kysely<Database>): PortalSessionRepository {
  return {
    async create(input, now = Date.now()) {
      const row = { id_hash: input.idHash, user_id: input.userId, admin: input.admin ? 1 : 0, csrf_token: input.csrfToken, created_at: now, expires_at: input.expiresAt, last_seen_at: now };
      await db.insertInto('portal_sessions').values(row).execute();
      return toSession(row);
    },
    async findValid(idHash, now = Date.now()) {
      const row = await db.selectFrom('portal_sessions').selectAll().where('id_hash', '=', idHash).where('expires_at', '>', now).executeTakeFirst();
      return row && toSession(row);
    },
    async touch(idHash, now = Date.now()) {
      const result = await db
        .updateTable('portal_sessions')
        .set({ last_seen_at: now })
        .where('id_hash', '=', idHash)
        .where('last_seen_at', '<=', now - SESSION_TOUCH_INTERVAL_MS)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async delete(idHash) {
      const result = await db.deleteFrom('portal_sessions').where('id_hash', '=', idHash).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async deleteForUser(userId, exceptIdHash) {
      let query = db.deleteFrom('portal_sessions').where('user_id', '=', userId);
      if (exceptIdHash !== undefined) query = query.where('id_hash', '!=', exceptIdHash);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async purgeExpired(now = Date.now()) {
      const result = await db.deleteFrom('portal_sessions').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

// ---- codes -----------------------------------------------------------------------------------------

export const REDEMPTION_CODE_PREFIX = 'RC-';
export const INVITE_CODE_PREFIX = 'INV-';
/** Random base62 characters after the prefix: ~95 bits, so a code cannot be guessed. */
export const CODE_LENGTH = 16;
/** The most codes one batch makes. */
export const MAX_CODES_PER_BATCH = 1000;

/** What the store keeps instead of a code: the server's `hashApiKey(pepper, code)` (hex). */
export type CodeHasher = (code: string) => string;

export function generateCode(prefix: string): string {
  return prefix + randomBase62(CODE_LENGTH);
}

/** `RC-AB12…`: enough to tell codes apart in a list, far too little to use one. */
export function codeHint(code: string): string {
  const dash = code.indexOf('-');
  return code.slice(0, dash + 1 + 4) + '…';
}

export interface RedemptionCode {
  hint: string;
  amountMicros: number;
  createdAt: number;
  expiresAt: number | null;
  redeemedAt: number | null;
  /** The account the code credited, once redeemed. */
  accountId: string | null;
  batch: string;
  createdBy: string;
}

export interface NewRedemptionCodes {
  count: number;
  amountMicros: number;
  expiresAt?: number | null;
  /** Who made them (`admin`, `user:<id>`). */
  createdBy: string;
}

export interface CreatedCodes {
  batch: string;
  /** The plain codes: shown once, never stored. */
  codes: string[];
}

export interface RedemptionCodeRepository {
  /** Makes `count` (1–1000) codes of `amountMicros` each, in one transaction. */
  createBatch(input: NewRedemptionCodes, hash: CodeHasher, now?: number): Promise<CreatedCodes>;
  /** Newest first. */
  list(filter?: { batch?: string; limit?: number }): Promise<RedemptionCode[]>;
  /**
   * Marks the code redeemed by `accountId` and credits its amount (ledger kind `credit`, reason
   * `redemption RC-AB12…`, by `actor`) in one transaction; the ledger entry, or undefined when the code
   * is unknown, used or expired (or the account does not exist). Exactly one of any number of concurrent
   * calls credits. BalanceTooHighError (nothing changed) when the credit would pass the largest balance.
   */
  redeem(codeHash: string, accountId: string, actor: string, now?: number): Promise<LedgerEntry | undefined>;
}

function checkCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_CODES_PER_BATCH) throw new RangeError(`count must be an integer from 1 to ${MAX_CODES_PER_BATCH}`);
}

/** Rows per INSERT of codes: far below either dialect's parameter bound. */
const CODE_INSERT_CHUNK = 100;

function toRedemptionCode(row: Omit<Selectable<RedemptionCodesTable>, 'code_hash'>): RedemptionCode {
  return {
    hint: row.hint,
    amountMicros: toNumber(row.amount_micros),
    createdAt: toNumber(row.created_at),
    expiresAt: toNumber(row.expires_at),
    redeemedAt: toNumber(row.redeemed_at),
    accountId: row.account_id,
    batch: row.batch,
    createdBy: row.created_by,
  };
}

export function redemptionCodeRepository(db: Kysely<Database>): RedemptionCodeRepository {
  return {
    async createBatch(input, hash, now = Date.now()) {
      checkCount(input.count);
      if (!Number.isSafeInteger(input.amountMicros) || input.amountMicros <= 0) throw new RangeError('amountMicros must be a positive integer');
      const batch = 'rcb_' + randomBase62(12);
      const codes = Array.from({ length: input.count }, () => generateCode(REDEMPTION_CODE_PREFIX));
      const rows = codes.map((code) => ({
        code_hash: hash(code),
        hint: codeHint(code),
        amount_micros: input.amountMicros,
        created_at: now,
        expires_at: input.expiresAt ?? null,
        redeemed_at: null,
        account_id: null,
        batch,
        created_by: input.createdBy,
      }));
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < rows.length; i += CODE_INSERT_CHUNK) await trx.insertInto('redemption_codes').values(rows.slice(i, i + CODE_INSERT_CHUNK)).execute();
      });
      return { batch, codes };
    },
    async list(filter = {}) {
      let query = db.selectFrom('redemption_codes').select(['hint', 'amount_micros', 'created_at', 'expires_at', 'redeemed_at', 'account_id', 'batch', 'created_by']);
      if (filter.batch !== undefined) query = query.where('batch', '=', filter.batch);
      const rows = await query
        .orderBy('created_at', 'desc')
        .orderBy('hint')
        .limit(filter.limit ?? 1000)
        .execute();
      return rows.map(toRedemptionCode);
    },
    async redeem(codeHash, accountId, actor, now = Date.now()) {
      return db.transaction().execute(async (trx) => {
        // The one statement that decides: on PostgreSQL a concurrent redeemer waits on the row lock and
        // then finds redeemed_at set; on SQLite the write lock serialises them. Only the winner gets a row.
        const claimed = await trx
          .updateTable('redemption_codes')
          .set({ redeemed_at: now, account_id: accountId })
          .where('code_hash', '=', codeHash)
          .where('redeemed_at', 'is', null)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
          .returning(['hint', 'amount_micros'])
          .executeTakeFirst();
        if (claimed === undefined) return undefined;
        const entry = await recordLedgerEntryIn(trx, { accountId, kind: 'credit', amountMicros: toNumber(claimed.amount_micros), reason: `redemption ${claimed.hint}`, actor }, now);
        // No such account: undo the claim with the rest, so the code stays redeemable.
        if (entry === undefined) throw new NoSuchAccount();
        return entry;
      }).catch((err: unknown) => {
        if (err instanceof NoSuchAccount || isForeignKeyViolation(err)) return undefined;
        throw err;
      });
    },
  };
}

/** Rolls a redemption back when its account is missing (a transaction only rolls back on a throw). */
class NoSuchAccount extends Error {}

/** The claim named an account that does not exist (SQLite SQLITE_CONSTRAINT_FOREIGNKEY, PostgreSQL 23503). */
function isForeignKeyViolation(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}

export interface InviteCode {
  hint: string;
  createdAt: number;
  expiresAt: number | null;
  usedAt: number | null;
  usedBy: string | null;
  createdBy: string;
}

export interface InviteCodeRepository {
  createBatch(input: { count: number; expiresAt?: number | null; createdBy: string }, hash: CodeHasher, now?: number): Promise<CreatedCodes>;
  /** Newest first. */
  list(filter?: { limit?: number }): Promise<InviteCode[]>;
  /** Marks the code used by `userId` when it is unused and unexpired: one conditional UPDATE; whether it did. */
  use(codeHash: string, userId: string, now?: number): Promise<boolean>;
}

export function inviteCodeRepository(db: Kysely<Database>): InviteCodeRepository {
  return {
    async createBatch(input, hash, now = Date.now()) {
      checkCount(input.count);
      const codes = Array.from({ length: input.count }, () => generateCode(INVITE_CODE_PREFIX));
      const rows = codes.map((code) => ({ code_hash: hash(code), hint: codeHint(code), created_at: now, expires_at: input.expiresAt ?? null, used_at: null, used_by: null, created_by: input.createdBy }));
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < rows.length; i += CODE_INSERT_CHUNK) await trx.insertInto('invite_codes').values(rows.slice(i, i + CODE_INSERT_CHUNK)).execute();
      });
      // Invite codes have no batch column: the batch is the creation instant.
      return { batch: String(now), codes };
    },
    async list(filter = {}) {
      const rows = await db
        .selectFrom('invite_codes')
        .select(['hint', 'created_at', 'expires_at', 'used_at', 'used_by', 'created_by'])
        .orderBy('created_at', 'desc')
        .orderBy('hint')
        .limit(filter.limit ?? 1000)
        .execute();
      return rows.map((r) => ({ hint: r.hint, createdAt: toNumber(r.created_at), expiresAt: toNumber(r.expires_at), usedAt: toNumber(r.used_at), usedBy: r.used_by, createdBy: r.created_by }));
    },
    async use(codeHash, userId, now = Date.now()) {
      const result = await db
        .updateTable('invite_codes')
        .set({ used_at: now, used_by: userId })
        .where('code_hash', '=', codeHash)
        .where('used_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
  };
}

/** The portal's repositories over `db` — the store's handle, or a transaction's (sign-up in one transaction). */
export interface PortalRepositories {
  users: PortalUserRepository;
  members: MemberRepository;
  sessions: PortalSessionRepository;
  redemptionCodes: RedemptionCodeRepository;
  inviteCodes: InviteCodeRepository;
}

export function portalRepositories(db: Kysely<Database>): PortalRepositories {
  return {
    users: portalUserRepository(db),
    members: memberRepository(db),
    sessions: portalSessionRepository(db),
    redemptionCodes: redemptionCodeRepository(db),
    inviteCodes: inviteCodeRepository(db),
  };
}
