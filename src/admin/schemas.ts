// The admin API's request bodies and query strings (SPEC §13), as TypeBox schemas: validated with Ajv by
// admin/validate.ts, and the source of the input types the operations take. The CLI builds the same
// objects from its flags, so both surfaces are checked alike.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { StringEnum } from '../openai/schemas/common.js';
import { LimitValuesSchema } from '../config/schema.js';

const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ACCOUNT_STATUSES = ['active', 'disabled'] as const;
export const USAGE_BUCKETS = ['minute', 'hour', 'day'] as const;
export const LEDGER_KIND_NAMES = ['credit', 'refund', 'adjustment'] as const;
export const BILLING_MODE_NAMES = ['prepaid', 'postpaid'] as const;
export const BUDGET_PERIOD_NAMES = ['day', 'week', 'month', 'none'] as const;

const Name = Type.String({ minLength: 1, maxLength: 128 });
const TierName = Type.String({ minLength: 1, maxLength: 64 });
/** Currency units as a decimal string ("10.50") or a JSON number (10.5); see admin/money.ts. */
const DecimalAmount = Type.Union([Type.String(), Type.Number()]);
const Micros = Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER });

export const CreateAccountBodySchema = Type.Object(
  {
    name: Name,
    /** A configured tier; the config's `limits.default_tier` when absent. */
    tier: Opt(TierName),
    limits: Opt(Nullable(LimitValuesSchema)),
    /** A first ledger entry (kind `credit`) in currency units, or `initial_credit_micros`. */
    initial_credit: Opt(DecimalAmount),
    initial_credit_micros: Opt(Micros),
  },
  { additionalProperties: false },
);

export const UpdateAccountBodySchema = Type.Object(
  {
    tier: Opt(TierName),
    /** Replaces the account's limit overrides; null clears them. */
    limits: Opt(Nullable(LimitValuesSchema)),
    status: Opt(StringEnum(ACCOUNT_STATUSES)),
    /** The account's own billing mode; null follows its tier's (then the config's). */
    billing: Opt(Nullable(StringEnum(BILLING_MODE_NAMES))),
  },
  { additionalProperties: false },
);

export const LedgerEntryBodySchema = Type.Object(
  {
    amount: Opt(DecimalAmount),
    amount_micros: Opt(Micros),
    kind: Opt(StringEnum(LEDGER_KIND_NAMES)),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    actor: Opt(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);

export const CreateKeyBodySchema = Type.Object(
  {
    name: Opt(Nullable(Name)),
    /** A duration from now: `90m`, `12h`, `30d`, `2w`. */
    expires_in: Opt(Type.String()),
    /** ISO 8601 with a time zone, or unix seconds. */
    expires_at: Opt(Type.Union([Type.String(), Type.Integer({ minimum: 0, maximum: 253_402_300_799 })])),
    /** Model ids the key may call; null or absent = every model. */
    allowed_models: Opt(Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { minItems: 1, maxItems: 1000 }))),
    limits: Opt(Nullable(LimitValuesSchema)),
  },
  { additionalProperties: false },
);

/** A budget on an account or a key (PUT replaces the whole budget). */
export const BudgetBodySchema = Type.Object(
  {
    /** The cap per period, in currency units (or `limit_micros`). */
    limit: Opt(DecimalAmount),
    limit_micros: Opt(Micros),
    /** Spend at which the `budget.threshold_reached` alert fires; null or absent: none. */
    soft_limit: Opt(Nullable(DecimalAmount)),
    soft_limit_micros: Opt(Nullable(Micros)),
    period: StringEnum(BUDGET_PERIOD_NAMES),
    /** `HH:MM`, local time in `time_zone`: when a period starts (default 00:00). */
    reset_time: Opt(Type.String()),
    /** An IANA zone (default UTC). */
    time_zone: Opt(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
);

// Query strings arrive as strings (an array when a parameter is repeated): the operations parse them.
const Q = Opt(Type.String());

export const KeysQuerySchema = Type.Object({ account_id: Q }, { additionalProperties: false });

export const LedgerQuerySchema = Type.Object({ limit: Q, before: Q }, { additionalProperties: false });

const UsageFilterFields = { account_id: Q, key_id: Q, model: Q, start: Q, end: Q };

export const UsageQuerySchema = Type.Object({ ...UsageFilterFields, bucket: Opt(StringEnum(USAGE_BUCKETS)) }, { additionalProperties: false });

export const UsageRecordsQuerySchema = Type.Object({ ...UsageFilterFields, limit: Q, before: Q }, { additionalProperties: false });

export type CreateAccountBody = Static<typeof CreateAccountBodySchema>;
export type UpdateAccountBody = Static<typeof UpdateAccountBodySchema>;
export type BudgetBody = Static<typeof BudgetBodySchema>;
export type LedgerEntryBody = Static<typeof LedgerEntryBodySchema>;
export type CreateKeyBody = Static<typeof CreateKeyBodySchema>;
export type KeysQuery = Static<typeof KeysQuerySchema>;
export type LedgerQuery = Static<typeof LedgerQuerySchema>;
export type UsageQuery = Static<typeof UsageQuerySchema>;
export type UsageRecordsQuery = Static<typeof UsageRecordsQuerySchema>;
export type UsageBucketName = (typeof USAGE_BUCKETS)[number];
