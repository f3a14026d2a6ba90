// Key conversion between JavaScript (camelCase) and the wire (snake_case).
//
// Keys are converted deeply, except the values of keys that hold user-defined JSON
// (document `data`, a user's `profile`, a project's `settings`, a collection's `schema`,
// function `environment`/`secrets`, error `details`, archive `sections`, ...): their
// keys belong to the user and are never renamed.

/** Keys whose values are user data: the key itself is converted, its value is not. */
export const OPAQUE_KEYS = new Set([
  'data',
  'profile',
  'settings',
  'schema',
  'environment',
  'secrets',
  'details',
  'sections',
  'metadata',
  'filter',
]);

/** `fooBarBaz` → `foo_bar_baz` (already snake_case strings are unchanged). */
export function toSnake(key) {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** `foo_bar_baz` → `fooBarBaz`. */
export function toCamel(key) {
  return key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function convert(value, rename) {
  if (Array.isArray(value)) return value.map((item) => convert(item, rename));
  if (!isPlainObject(value)) return value;
  const out = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner === undefined) continue;
    const snakeKey = toSnake(key);
    out[rename(key)] = OPAQUE_KEYS.has(snakeKey) ? inner : convert(inner, rename);
  }
  return out;
}

/** Deeply convert object keys to snake_case for the wire (user data untouched). */
export function snakeKeys(value) {
  return convert(value, toSnake);
}

/** Deeply convert object keys from the wire to camelCase (user data untouched). */
export function camelKeys(value) {
  return convert(value, toCamel);
}
