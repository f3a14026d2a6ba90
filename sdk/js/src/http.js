import { camelKeys, snakeKeys, toSnake } from './case.js';
import { CloudBoxError, errorFromResponse } from './errors.js';

/** Normalise `http://host:8080`, `http://host:8080/`, `http://host:8080/api/` to `http://host:8080`. */
export function normalizeEndpoint(endpoint) {
  let base = String(endpoint).trim().replace(/\/+$/, '');
  if (/\/api$/i.test(base)) base = base.slice(0, -4).replace(/\/+$/, '');
  return base;
}

/** Encode one path segment. */
export function seg(value) {
  if (value === undefined || value === null || value === '') {
    throw new CloudBoxError('A required identifier is missing', { code: 'INVALID_ARGUMENT' });
  }
  return encodeURIComponent(String(value));
}

function isBinary(body) {
  return (
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) ||
    (typeof FormData !== 'undefined' && body instanceof FormData) ||
    (typeof URLSearchParams !== 'undefined' && body instanceof URLSearchParams) ||
    typeof body === 'string'
  );
}

/** Build a query string: camelCase keys become snake_case; `orderBy` values too. */
export function queryString(query) {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    const name = toSnake(key);
    if (name === 'filter' && typeof value === 'object') {
      params.set(name, JSON.stringify(value));
    } else if (name === 'order_by') {
      const text = String(value);
      const desc = text.startsWith('-');
      params.set(name, (desc ? '-' : '') + toSnake(desc ? text.slice(1) : text));
    } else {
      params.set(name, String(value));
    }
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Mark an array with the server's `X-Total-Count` as a non-enumerable `total`. */
function withTotal(list, response) {
  const header = response.headers.get('x-total-count');
  if (Array.isArray(list) && header !== null && /^\d+$/.test(header)) {
    Object.defineProperty(list, 'total', { value: Number(header), enumerable: false, configurable: true });
  }
  return list;
}

/**
 * The shared transport of a CloudBox client and its project-scoped views: endpoint,
 * credentials (API key, platform token, app-user token) and `fetch`.
 */
export class Transport {
  constructor(options) {
    const endpoint =
      options.endpoint ?? (typeof location !== 'undefined' && location.origin ? location.origin : undefined);
    if (!endpoint) {
      throw new CloudBoxError('CloudBox needs an `endpoint`, e.g. http://localhost:8080', {
        code: 'INVALID_ARGUMENT',
      });
    }
    this.baseUrl = normalizeEndpoint(endpoint);
    this.apiKey = options.apiKey ?? null;
    this.storage = options.storage ?? null;
    this.storageKey = options.storageKey ?? 'cloudbox';
    this.token = options.token ?? this.#load('token');
    this.appToken = options.appToken ?? this.#load('appToken');
    this.headers = { ...(options.headers ?? {}) };
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') {
      throw new CloudBoxError('No fetch implementation: pass `fetch` in the options', {
        code: 'INVALID_ARGUMENT',
      });
    }
    this.fetch = (...args) => fetchImpl(...args);
  }

  #load(name) {
    try {
      return this.storage?.getItem(`${this.storageKey}.${name}`) ?? null;
    } catch {
      return null;
    }
  }

  #save(name, value) {
    if (!this.storage) return;
    try {
      if (value) this.storage.setItem(`${this.storageKey}.${name}`, value);
      else this.storage.removeItem(`${this.storageKey}.${name}`);
    } catch {
      /* storage is best effort */
    }
  }

  setToken(token) {
    this.token = token || null;
    this.#save('token', this.token);
  }

  setAppToken(token) {
    this.appToken = token || null;
    this.#save('appToken', this.appToken);
  }

  url(path, query) {
    return `${this.baseUrl}${path}${queryString(query)}`;
  }

  /**
   * Send a request and return the `Response` (after turning an error answer into a
   * CloudBoxError).
   * @param {string} method
   * @param {string} path  starts with `/api/`
   * @param {{query?: object, body?: any, headers?: object, signal?: AbortSignal,
   *   auth?: 'default'|'app'|'none'}} [options]
   */
  async send(method, path, options = {}) {
    const headers = { Accept: 'application/json', ...this.headers };
    const auth = options.auth ?? 'default';
    if (auth === 'default') {
      if (this.apiKey) headers['X-API-Key'] = this.apiKey;
      if (this.token) headers.Authorization = `Bearer ${this.token}`;
    } else if (auth === 'app' && this.appToken) {
      headers.Authorization = `Bearer ${this.appToken}`;
    }
    const init = { method, headers, signal: options.signal };
    const body = options.body;
    if (body !== undefined) {
      if (isBinary(body)) {
        init.body = body;
        if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) init.duplex = 'half';
      } else {
        init.body = JSON.stringify(snakeKeys(body));
        headers['Content-Type'] = 'application/json';
      }
    }
    Object.assign(headers, options.headers ?? {});
    let response;
    try {
      response = await this.fetch(this.url(path, options.query), init);
    } catch (cause) {
      if (cause?.name === 'AbortError' || options.signal?.aborted) throw cause;
      throw new CloudBoxError(`Network error: ${cause?.cause?.message ?? cause?.message ?? cause}`, {
        code: 'NETWORK_ERROR',
        cause,
      });
    }
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }

  /** Send a request and decode the JSON answer to camelCase (`undefined` for 204). */
  async json(method, path, options = {}) {
    const response = await this.send(method, path, options);
    if (response.status === 204) return undefined;
    const text = await response.text();
    if (!text) return undefined;
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new CloudBoxError('The server answered with invalid JSON', {
        status: response.status,
        code: 'INVALID_RESPONSE',
        details: { body: text.slice(0, 2000) },
        cause,
      });
    }
    return withTotal(camelKeys(parsed), response);
  }
}

export { CloudBoxError };
