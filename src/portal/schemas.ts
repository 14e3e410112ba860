// The portal API's request bodies and query strings as TypeBox schemas, checked with Ajv like every other
// route: the first fault is a 400 naming the field.
import { Ajv, type ValidateFunction } from 'ajv';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { StringEnum } from '../openai/schemas/common.js';
import { pickAjvError } from '../validation/ajv-errors.js';
import { invalidRequest } from '../openai/errors.js';
import { LimitValuesSchema } from '../config/schema.js';
import { ACCOUNT_STATUSES, BILLING_MODE_NAMES } from '../admin/schemas.js';

const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const Q = Opt(Type.String({ maxLength: 200 }));
const Email = Type.String({ minLength: 3, maxLength: 254 });
const Password = Type.String({ minLength: 8, maxLength: 1024 });
const Amount = Type.Union([Type.String({ maxLength: 40 }), Type.Number()]);

export const SignupBody = Type.Object({ email: Email, password: Password, invite_code: Opt(Type.String({ minLength: 1, maxLength: 100 })) }, { additionalProperties: false });
export const SigninBody = Type.Object({ email: Type.String({ minLength: 1, maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });
export const AdminSigninBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false });
export const PasswordBody = Type.Object({ current_password: Type.String({ minLength: 1, maxLength: 1024 }), new_password: Password }, { additionalProperties: false });
export const NewKeyBody = Type.Object(
  {
    name: Opt(Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()])),
    expires_in: Opt(Type.String({ maxLength: 20 })),
    allowed_models: Opt(Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { minItems: 1, maxItems: 1000 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export const RedeemBody = Type.Object({ code: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });
export const MemberBody = Type.Object({ email: Email }, { additionalProperties: false });
export const AccountPatchBody = Type.Object(
  {
    tier: Opt(Type.String({ minLength: 1, maxLength: 64 })),
    status: Opt(StringEnum(ACCOUNT_STATUSES)),
    limits: Opt(Type.Union([LimitValuesSchema, Type.Null()])),
    /** null: follow the tier's mode. */
    billing: Opt(Type.Union([StringEnum(BILLING_MODE_NAMES), Type.Null()])),
  },
  { additionalProperties: false },
);
export const CreditBody = Type.Object({ amount: Amount, reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false });
export const RedemptionCodesBody = Type.Object(
  { amount: Amount, count: Type.Integer({ minimum: 1, maximum: 1000 }), expires_in: Opt(Type.String({ maxLength: 20 })) },
  { additionalProperties: false },
);
export const InviteCodesBody = Type.Object({ count: Type.Integer({ minimum: 1, maximum: 1000 }), expires_in: Opt(Type.String({ maxLength: 20 })) }, { additionalProperties: false });

export const LedgerQuery = Type.Object({ limit: Q, before: Q }, { additionalProperties: false });
export const SeriesQuery = Type.Object(
  { range: Opt(StringEnum(['24h', '7d', '30d', 'custom'])), from: Q, to: Q, bucket: Opt(StringEnum(['hour', 'day'])), group_by: Opt(StringEnum(['model', 'key', 'none'])) },
  { additionalProperties: false },
);
export const AdminSeriesQuery = Type.Object(
  { range: Opt(StringEnum(['24h', '7d', '30d', 'custom'])), from: Q, to: Q, bucket: Opt(StringEnum(['hour', 'day'])), group_by: Opt(StringEnum(['model', 'account', 'none'])) },
  { additionalProperties: false },
);
export const RecordsQuery = Type.Object(
  { limit: Q, before: Q, model: Q, key_id: Q, status: Opt(StringEnum(['ok', 'error'])), format: Opt(StringEnum(['json', 'csv'])) },
  { additionalProperties: false },
);
export const AccountsQuery = Type.Object({ q: Q }, { additionalProperties: false });
export const KeysQuery = Type.Object({ account_id: Q }, { additionalProperties: false });

const ajv = new Ajv({ strict: false, allErrors: false, verbose: true });

/** A checker for one schema: the value itself, typed, or a 400 naming the field. */
export function checker<S extends TSchema>(schema: S, what: string): (value: unknown) => Static<S> {
  const validate: ValidateFunction<Static<S>> = ajv.compile<Static<S>>(schema);
  return (value) => {
    const input = value ?? {};
    if (typeof input !== 'object' || Array.isArray(input)) throw invalidRequest(null, `The ${what} must be a JSON object.`);
    if (!validate(input)) {
      const { path, message } = pickAjvError(validate.errors ?? [], input);
      throw invalidRequest(path, message);
    }
    return input;
  };
}
