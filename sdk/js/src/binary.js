// Helpers for bytes in Node and browsers: no Node-only imports.
import { CloudBoxError } from './errors.js';

/** Hex SHA-256 of in-memory bytes, or `null` when WebCrypto is unavailable (e.g. an insecure browser context). */
export async function sha256Hex(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const buffer = bytes instanceof Blob ? await bytes.arrayBuffer() : bytes;
  const digest = await subtle.digest('SHA-256', buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Turn a string / ArrayBuffer / typed array / Blob into a Blob (ReadableStream is left alone). */
export function toBlob(data, type) {
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data;
  if (typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
    return new Blob([data], type ? { type } : undefined);
  }
  throw new CloudBoxError('Expected a Blob, File, ArrayBuffer, typed array or string', {
    code: 'INVALID_ARGUMENT',
  });
}

export function isStream(data) {
  return typeof ReadableStream !== 'undefined' && data instanceof ReadableStream;
}

/** Read a whole ReadableStream of bytes into one ArrayBuffer. */
export async function streamToArrayBuffer(stream) {
  return new Response(stream).arrayBuffer();
}

/** Decode the base64 SHA-256 of a `Digest: sha-256=<b64>` / `Repr-Digest: sha-256=:<b64>:` header to hex. */
export function digestHeaderHex(headers) {
  const value = headers.get('repr-digest') || headers.get('digest');
  if (!value) return null;
  const match = /sha-256=:?([A-Za-z0-9+/=]+):?/i.exec(value);
  if (!match) return null;
  try {
    const raw = atob(match[1]);
    return Array.from(raw, (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
  } catch {
    return null;
  }
}

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
