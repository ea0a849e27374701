/**
 * @module The logging interface the app writes to: the subset of pino it uses, so Node passes pino
 * and the edge runtimes pass pino's browser build or a console sink.
 */

export interface Logger {
  child(bindings: Record<string, unknown>): Logger;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Keys whose values never reach a log line, wherever they appear (pino: one or two levels deep; the edge console sink: any depth). */
export const REDACTED_KEYS = [
  'secret',
  'signingSecret',
  'serviceKey',
  'secretKey',
  'authorization',
  'apikey',
  'password',
  'email',
  'email_address',
  'phone',
  'phone_number',
  'first_name',
  'last_name',
  'username',
  'public_metadata',
  'private_metadata',
  'unsafe_metadata',
  'payload',
  'body',
];

/** A logger that drops everything. */
export const silentLogger: Logger = {
  child: () => silentLogger,
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
