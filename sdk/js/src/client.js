import { Backups, Restores } from './backups.js';
import { CloudBoxError } from './errors.js';
import { Transport } from './http.js';
import {
  ApiKeys,
  AppAuth,
  AuditLogs,
  Auth,
  AuthSettings,
  Buckets,
  Collections,
  Cors,
  Documents,
  Files,
  Members,
  Projects,
  Users,
} from './resources.js';

const SHARED = Symbol('cloudbox.sharedTransport');

/**
 * A CloudBox client.
 *
 * ```js
 * const cloudbox = new CloudBox({ endpoint: 'http://localhost:8080', projectId: 1, apiKey: 'cbk_...' });
 * const backup = await cloudbox.backups.create({ name: 'Nightly', type: 'manual' });
 * ```
 *
 * Options: `endpoint` (with or without a trailing `/api`), `projectId` (the project the
 * project-scoped APIs act on), `apiKey` (`cbk_...`, sent as `X-API-Key`) and/or `token`
 * (a platform user's `cbt_...`, sent as `Authorization: Bearer`), `appToken` (an app
 * user's `cbu_...`), `headers` (extra headers), `fetch` (a fetch implementation),
 * `storage` (an object with `getItem`/`setItem`/`removeItem`, e.g. `localStorage`, to
 * keep tokens across page loads) and `storageKey`.
 */
export class CloudBox {
  constructor(options = {}) {
    /** @internal */
    this._transport = options[SHARED] ?? new Transport(options);
    /** The project the project-scoped APIs act on. */
    this.projectId = options.projectId ?? null;

    this.auth = new Auth(this);
    this.projects = new Projects(this);
    this.members = new Members(this);
    this.apiKeys = new ApiKeys(this);
    this.cors = new Cors(this);
    this.auditLogs = new AuditLogs(this);
    this.collections = new Collections(this);
    this.buckets = new Buckets(this);
    this.users = new Users(this);
    this.authSettings = new AuthSettings(this);
    this.appAuth = new AppAuth(this);
    this.backups = new Backups(this);
    this.restores = new Restores(this);
    this.storage = {
      buckets: this.buckets,
      from: (bucket) => new Files(this, bucket),
      bucket: (bucket) => this.bucket(bucket),
    };
  }

  /** The server's base URL, without `/api`. */
  get endpoint() {
    return this._transport.baseUrl;
  }

  /** The platform token in use (set by `auth.login`/`auth.register`). */
  get token() {
    return this._transport.token;
  }

  /** The same client (same credentials and tokens) acting on another project. */
  project(projectId) {
    return new CloudBox({ [SHARED]: this._transport, projectId });
  }

  /** One collection: its documents, and the collection itself. */
  collection(name) {
    const collections = this.collections;
    return {
      name,
      documents: new Documents(this, name),
      get: (options) => collections.get(name, options),
      update: (changes, options) => collections.update(name, changes, options),
      delete: (options) => collections.delete(name, options),
    };
  }

  /** The documents of a collection (same as `collection(name).documents`). */
  documents(collection) {
    return new Documents(this, collection);
  }

  /** One bucket: its files, and the bucket itself. */
  bucket(name) {
    const buckets = this.buckets;
    return {
      name,
      files: new Files(this, name),
      get: (options) => buckets.get(name, options),
      update: (changes, options) => buckets.update(name, changes, options),
      delete: (options) => buckets.delete(name, options),
    };
  }

  /** `GET /api/health`: `{status, version}`. */
  health(options = {}) {
    return this._transport.json('GET', '/api/health', { signal: options.signal, auth: 'none' });
  }

  /** @internal the project id to use, or a CloudBoxError when none is known. */
  _project(override) {
    const id = override ?? this.projectId;
    if (id === undefined || id === null || id === '') {
      throw new CloudBoxError('No project: pass `projectId` to new CloudBox() or use cloudbox.project(id)', {
        code: 'PROJECT_REQUIRED',
      });
    }
    return id;
  }
}
