/**
 * Every failure of the SDK: an error answer of the server (with its `status`, `code`,
 * `message` and `details`), a network failure (`code: 'NETWORK_ERROR'`, `status: 0`),
 * a backup or restore job that ended `failed` (`code` is the job's error code), or a
 * timeout while waiting (`code: 'TIMEOUT'`).
 */
export class CloudBoxError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, code?: string, details?: any, cause?: unknown,
   *   headers?: Headers, backup?: any, restore?: any}} [options]
   */
  constructor(message, options = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'CloudBoxError';
    /** HTTP status of the answer; 0 when no answer arrived. */
    this.status = options.status ?? 0;
    /** The server's error code (e.g. `BACKUP_NOT_FOUND`), or an SDK code. */
    this.code = options.code ?? 'UNKNOWN_ERROR';
    /** Structured details the server sent (`{}` when none). */
    this.details = options.details ?? {};
    if (options.headers) this.headers = options.headers;
    if (options.backup) this.backup = options.backup;
    if (options.restore) this.restore = options.restore;
  }
}

/** Build a CloudBoxError from an error answer of the server. */
export async function errorFromResponse(response) {
  let body;
  let text = '';
  try {
    text = await response.text();
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const error = body && typeof body === 'object' ? body.error : undefined;
  if (error && typeof error === 'object' && typeof error.code === 'string') {
    return new CloudBoxError(error.message || error.code, {
      status: response.status,
      code: error.code,
      details: error.details ?? {},
      headers: response.headers,
    });
  }
  return new CloudBoxError(`HTTP ${response.status} ${response.statusText || ''}`.trim(), {
    status: response.status,
    code: `HTTP_${response.status}`,
    details: text ? { body: text.slice(0, 2000) } : {},
    headers: response.headers,
  });
}
