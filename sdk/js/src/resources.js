import { CloudBoxError } from './errors.js';
import { seg } from './http.js';
import { digestHeaderHex, sha256Hex, toBlob } from './binary.js';

class Resource {
  constructor(client) {
    this._client = client;
  }

  get _t() {
    return this._client._transport;
  }

  /** `/api/projects/{id}` of the client's project. */
  get _base() {
    return `/api/projects/${seg(this._client._project())}`;
  }
}

function ifMatch(version) {
  return version === undefined || version === null ? undefined : { 'If-Match': `"${version}"` };
}

function split(options = {}) {
  const { signal, ...rest } = options;
  return [rest, signal];
}

/** `cloudbox.auth`: platform accounts; `register`/`login` store the token on the client. */
export class Auth extends Resource {
  async register(input, options = {}) {
    const answer = await this._t.json('POST', '/api/auth/register', { body: input, signal: options.signal });
    this._t.setToken(answer.token);
    return answer;
  }

  async login(input, options = {}) {
    const answer = await this._t.json('POST', '/api/auth/login', { body: input, signal: options.signal });
    this._t.setToken(answer.token);
    return answer;
  }

  /** Revoke the token on the server and forget it (forgotten even if the server refuses). */
  async logout(options = {}) {
    try {
      await this._t.json('POST', '/api/auth/logout', { signal: options.signal });
    } finally {
      this._t.setToken(null);
    }
  }

  async me(options = {}) {
    return this._t.json('GET', '/api/auth/me', { signal: options.signal });
  }

  getToken() {
    return this._t.token;
  }

  setToken(token) {
    this._t.setToken(token);
  }
}

/** `cloudbox.projects`. */
export class Projects extends Resource {
  async list(options = {}) {
    const [query, signal] = split(options);
    return this._t.json('GET', '/api/projects', { query, signal });
  }

  async create(input, options = {}) {
    return this._t.json('POST', '/api/projects', { body: input, signal: options.signal });
  }

  /** One project (the client's own when `id` is omitted). */
  async get(id, options = {}) {
    return this._t.json('GET', `/api/projects/${seg(id ?? this._client._project())}`, { signal: options.signal });
  }

  async update(id, changes, options = {}) {
    return this._t.json('PATCH', `/api/projects/${seg(id)}`, { body: changes, signal: options.signal });
  }

  async delete(id, options = {}) {
    await this._t.json('DELETE', `/api/projects/${seg(id)}`, { signal: options.signal });
  }
}

/** `cloudbox.members`: the project's team. */
export class Members extends Resource {
  async list(options = {}) {
    const [query, signal] = split(options);
    return this._t.json('GET', `${this._base}/members`, { query, signal });
  }

  /** Add a platform user by email with a role (`owner`, `admin`, `developer`, `viewer`). */
  async add(input, options = {}) {
    return this._t.json('POST', `${this._base}/members`, { body: input, signal: options.signal });
  }

  async update(userId, changes, options = {}) {
    return this._t.json('PATCH', `${this._base}/members/${seg(userId)}`, { body: changes, signal: options.signal });
  }

  async remove(userId, options = {}) {
    await this._t.json('DELETE', `${this._base}/members/${seg(userId)}`, { signal: options.signal });
  }
}

/** `cloudbox.apiKeys`: the project's API keys (`key` is in the answer of `create` only). */
export class ApiKeys extends Resource {
  async list(options = {}) {
    const [query, signal] = split(options);
    return this._t.json('GET', `${this._base}/api-keys`, { query, signal });
  }

  async create(input, options = {}) {
    return this._t.json('POST', `${this._base}/api-keys`, { body: input, signal: options.signal });
  }

  async delete(id, options = {}) {
    await this._t.json('DELETE', `${this._base}/api-keys/${seg(id)}`, { signal: options.signal });
  }
}

/** `cloudbox.cors`: the project's CORS rules. */
export class Cors extends Resource {
  async get(options = {}) {
    return this._t.json('GET', `${this._base}/cors`, { signal: options.signal });
  }

  async update(config, options = {}) {
    return this._t.json('PUT', `${this._base}/cors`, { body: config, signal: options.signal });
  }
}

/** `cloudbox.auditLogs`: the project's append-only audit log. */
export class AuditLogs extends Resource {
  /** Filters: `action`, `resource`, `since`, `until`, `success`, plus `limit`/`offset`/`orderBy`. */
  async list(options = {}) {
    const [query, signal] = split(options);
    for (const key of ['since', 'until']) {
      if (query[key] instanceof Date) query[key] = query[key].toISOString();
    }
    return this._t.json('GET', `${this._base}/audit-logs`, { query, signal });
  }
}

/** `cloudbox.collections`. */
export class Collections extends Resource {
  async list(options = {}) {
    const [query, signal] = split(options);
    return this._t.json('GET', `${this._base}/collections`, { query, signal });
  }

  /** `{name, description, schema, indexes}`; `schema` is sent as written. */
  async create(input, options = {}) {
    return this._t.json('POST', `${this._base}/collections`, { body: input, signal: options.signal });
  }

  async get(name, options = {}) {
    return this._t.json('GET', `${this._base}/collections/${seg(name)}`, { signal: options.signal });
  }

  async update(name, changes, options = {}) {
    return this._t.json('PATCH', `${this._base}/collections/${seg(name)}`, { body: changes, signal: options.signal });
  }

  async delete(name, options = {}) {
    await this._t.json('DELETE', `${this._base}/collections/${seg(name)}`, { signal: options.signal });
  }
}

/** `cloudbox.collection(name).documents` / `cloudbox.documents(name)`. Document `data` is never renamed. */
export class Documents extends Resource {
  constructor(client, collection) {
    super(client);
    this.collection = collection;
  }

  get _path() {
    return `${this._base}/collections/${seg(this.collection)}/documents`;
  }

  /** `filter` is an object of top-level fields to values (equality), plus `limit`/`offset`/`orderBy`. */
  async list(options = {}) {
    const [query, signal] = split(options);
    return this._t.json('GET', this._path, { query, signal });
  }

  /** Create a document from `data`; pass `{id}` to choose its id. */
  async create(data, options = {}) {
    const body = { data };
    if (options.id !== undefined) body.id = options.id;
    return this._t.json('POST', this._path, { body, signal: options.signal });
  }

  async get(id, options = {}) {
    return this._t.json('GET', `${this._path}/${seg(id)}`, { signal: options.signal });
  }

  /**
   * JSON merge patch of the document's data (a `null` value removes a field). With
   * `{version}` the change applies only to that version (else 412 VERSION_CONFLICT).
   */
  async update(id, data, options = {}) {
    return this._t.json('PATCH', `${this._path}/${seg(id)}`, {
      body: { data },
      headers: ifMatch(options.version),
      signal: options.signal,
    });
  }

  /** Delete a document; with `{version}` only if it still has that version. */
  async delete(id, options = {}) {
    await this._t.json('DELETE', `${this._path}/${seg(id)}`, {
      headers: ifMatch(options.version),
      signal: options.signal,
    });
  }
}

/** `cloudbox.buckets` (also `cloudbox.storage.buckets`). */
export class Buckets extends Resource {
  async list(options = {}) {
    const [query, signal] = split(options);
    return this._t.json('GET', `${this._base}/buckets`, { query, signal });
  }

  /** `{name, description, isPublic, maxFileSize, allowedTypes}`. */
  async create(input, options = {}) {
    return this._t.json('POST', `${this._base}/buckets`, { body: input, signal: options.signal });
  }

  async get(name, options = {}) {
    return this._t.json('GET', `${this._base}/buckets/${seg(name)}`, { signal: options.signal });
  }

  async update(name, changes, options = {}) {
    return this._t.json('PATCH', `${this._base}/buckets/${seg(name)}`, { body: changes, signal: options.signal });
  }

  /** Delete a bucket; `{force: true}` also deletes its files. */
  async delete(name, options = {}) {
    const [query, signal] = split(options);
    await this._t.json('DELETE', `${this._base}/buckets/${seg(name)}`, { query, signal });
  }
}

/** `cloudbox.storage.from(bucket)` / `cloudbox.bucket(name).files`: the files of one bucket. */
export class Files extends Resource {
  constructor(client, bucket) {
    super(client);
    this.bucket = bucket;
  }

  get _path() {
    return `${this._base}/buckets/${seg(this.bucket)}/files`;
  }

  /** Filters: `folderPath`, plus `limit`/`offset`/`orderBy`. */
  async list(options = {}) {
    const [query, signal] = split(options);
    return this._t.json('GET', this._path, { query, signal });
  }

  /**
   * Upload one file as multipart/form-data. `file`: a File/Blob, ArrayBuffer, typed
   * array or string; options `name` (file name; a File's own name otherwise),
   * `contentType`, `folderPath`.
   */
  async upload(file, options = {}) {
    const blob = toBlob(file, options.contentType);
    const typed = options.contentType && blob.type !== options.contentType
      ? new Blob([blob], { type: options.contentType })
      : blob;
    const name = options.name ?? (typeof file?.name === 'string' && file.name ? file.name : 'file');
    const form = new FormData();
    if (options.folderPath !== undefined) form.append('folder_path', options.folderPath);
    form.append('file', typed, name);
    return this._t.json('POST', this._path, { body: form, signal: options.signal });
  }

  async get(fileId, options = {}) {
    return this._t.json('GET', `${this._path}/${seg(fileId)}`, { signal: options.signal });
  }

  /** Rename or move: `{name, folderPath}`. */
  async update(fileId, changes, options = {}) {
    return this._t.json('PATCH', `${this._path}/${seg(fileId)}`, { body: changes, signal: options.signal });
  }

  async delete(fileId, options = {}) {
    await this._t.json('DELETE', `${this._path}/${seg(fileId)}`, { signal: options.signal });
  }

  /** The content as a `ReadableStream` of bytes (`start`/`end`, inclusive, for a byte range). */
  async download(fileId, options = {}) {
    return (await this._content(fileId, options)).body;
  }

  /** The content in memory as an ArrayBuffer. */
  async downloadArrayBuffer(fileId, options = {}) {
    const response = await this._content(fileId, options);
    const buffer = await response.arrayBuffer();
    const expected = response.status === 200 ? digestHeaderHex(response.headers) : null;
    if (expected && options.verify !== false) {
      const actual = await sha256Hex(buffer);
      if (actual && actual !== expected) {
        throw new CloudBoxError('The downloaded file does not match its SHA-256 digest', {
          code: 'CHECKSUM_MISMATCH',
          details: { expected, actual },
        });
      }
    }
    return buffer;
  }

  /** The content as a Blob (typed with the server's Content-Type). */
  async downloadBlob(fileId, options = {}) {
    return (await this._content(fileId, options)).blob();
  }

  _content(fileId, options = {}) {
    const headers = { Accept: '*/*' };
    if (options.start !== undefined || options.end !== undefined) {
      headers.Range = `bytes=${options.start ?? 0}-${options.end ?? ''}`;
    }
    return this._t.send('GET', `${this._path}/${seg(fileId)}/content`, { headers, signal: options.signal });
  }
}

/** `cloudbox.users`: the project's app users, managed by its admins. */
export class Users extends Resource {
  async list(options = {}) {
    const [query, signal] = split(options);
    return this._t.json('GET', `${this._base}/users`, { query, signal });
  }

  /** `{email, password, name, username, isActive, isEmailVerified, profile}`; `profile` is sent as written. */
  async create(input, options = {}) {
    return this._t.json('POST', `${this._base}/users`, { body: input, signal: options.signal });
  }

  async get(id, options = {}) {
    return this._t.json('GET', `${this._base}/users/${seg(id)}`, { signal: options.signal });
  }

  async update(id, changes, options = {}) {
    return this._t.json('PATCH', `${this._base}/users/${seg(id)}`, { body: changes, signal: options.signal });
  }

  async delete(id, options = {}) {
    await this._t.json('DELETE', `${this._base}/users/${seg(id)}`, { signal: options.signal });
  }
}

/** `cloudbox.authSettings`: sign-up rules of the project's app users. */
export class AuthSettings extends Resource {
  async get(options = {}) {
    return this._t.json('GET', `${this._base}/auth-settings`, { signal: options.signal });
  }

  async update(settings, options = {}) {
    return this._t.json('PUT', `${this._base}/auth-settings`, { body: settings, signal: options.signal });
  }
}

/**
 * `cloudbox.appAuth`: sign-up and sign-in of the project's own app users (public
 * routes); the `cbu_` token is kept on the client for `me` and `logout`.
 */
export class AppAuth extends Resource {
  async register(input, options = {}) {
    const answer = await this._t.json('POST', `${this._base}/auth/register`, {
      body: input,
      signal: options.signal,
      auth: 'none',
    });
    if (answer?.token) this._t.setAppToken(answer.token);
    return answer;
  }

  async login(input, options = {}) {
    const answer = await this._t.json('POST', `${this._base}/auth/login`, {
      body: input,
      signal: options.signal,
      auth: 'none',
    });
    this._t.setAppToken(answer.token);
    return answer;
  }

  async me(options = {}) {
    return this._t.json('GET', `${this._base}/auth/me`, { signal: options.signal, auth: 'app' });
  }

  async logout(options = {}) {
    try {
      await this._t.json('POST', `${this._base}/auth/logout`, { signal: options.signal, auth: 'app' });
    } finally {
      this._t.setAppToken(null);
    }
  }

  getToken() {
    return this._t.appToken;
  }

  setToken(token) {
    this._t.setAppToken(token);
  }
}
