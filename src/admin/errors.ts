// What the admin operations throw. Each names the field at fault (`param`, a path like
// `limits.requests_per_minute`); the HTTP layer turns them into catalog errors (400, 404, 409) and the CLI
// into usage errors (exit 2).

/** Bad input: a field with a wrong value, or values that do not go together. */
export class AdminInputError extends Error {
  override name = 'AdminInputError';
  constructor(
    readonly param: string | null,
    message: string,
  ) {
    super(message);
  }
}

/** No account, key or other thing by that id. `param` names the field that carried it, if not the path. */
export class AdminNotFoundError extends Error {
  override name = 'AdminNotFoundError';
  constructor(
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** The change collides with what exists (an account name already taken). */
export class AdminConflictError extends Error {
  override name = 'AdminConflictError';
  constructor(
    readonly param: string | null,
    message: string,
  ) {
    super(message);
  }
}

/** An input error whose message starts with its field path, the way request validation words them. */
export function inputError(param: string, message: string): AdminInputError {
  return new AdminInputError(param, `${param}: ${message}`);
}
