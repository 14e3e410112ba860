// Checks an admin body or query string against its schema (admin/schemas.ts), compiled once with Ajv; the
// first fault becomes an AdminInputError naming the field, worded like request validation's.
import { Ajv, type ValidateFunction } from 'ajv';
import type { TSchema, Static } from '@sinclair/typebox';
import { pickAjvError } from '../validation/ajv-errors.js';
import { AdminInputError } from './errors.js';
import {
  BudgetBodySchema,
  CreateAccountBodySchema,
  CreateKeyBodySchema,
  KeysQuerySchema,
  LedgerEntryBodySchema,
  LedgerQuerySchema,
  UpdateAccountBodySchema,
  UsageQuerySchema,
  UsageRecordsQuerySchema,
} from './schemas.js';

const ajv = new Ajv({ strict: false, allErrors: false, verbose: true });

export interface InputCheck<T> {
  (value: unknown): T;
}

function compileCheck<S extends TSchema>(schema: S, what: string): InputCheck<Static<S>> {
  const validate: ValidateFunction<Static<S>> = ajv.compile<Static<S>>(schema);
  return (value) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AdminInputError(null, `The ${what} must be a JSON object.`);
    if (!validate(value)) {
      const { path, message } = pickAjvError(validate.errors ?? [], value);
      throw new AdminInputError(path, message);
    }
    return value;
  };
}

export const checkCreateAccountBody = compileCheck(CreateAccountBodySchema, 'request body');
export const checkUpdateAccountBody = compileCheck(UpdateAccountBodySchema, 'request body');
export const checkBudgetBody = compileCheck(BudgetBodySchema, 'request body');
export const checkLedgerEntryBody = compileCheck(LedgerEntryBodySchema, 'request body');
export const checkCreateKeyBody = compileCheck(CreateKeyBodySchema, 'request body');
export const checkKeysQuery = compileCheck(KeysQuerySchema, 'query string');
export const checkLedgerQuery = compileCheck(LedgerQuerySchema, 'query string');
export const checkUsageQuery = compileCheck(UsageQuerySchema, 'query string');
export const checkUsageRecordsQuery = compileCheck(UsageRecordsQuerySchema, 'query string');
