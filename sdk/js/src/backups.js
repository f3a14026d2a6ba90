import { camelKeys } from './case.js';
import { CloudBoxError } from './errors.js';
import { seg } from './http.js';
import { parseEventStream } from './sse.js';
import { digestHeaderHex, isStream, sha256Hex, sleep, streamToArrayBuffer, toBlob } from './binary.js';

function rangeHeader(options) {
  if (options.start === undefined && options.end === undefined) return undefined;
  const start = options.start ?? 0;
  return { Range: `bytes=${start}-${options.end ?? ''}` };
}

/** The error a job that ended `failed` rejects with: `code` is the job's own error code. */
function jobFailed(kind, job) {
  const code = job.error?.code || (kind === 'backup' ? 'BACKUP_FAILED' : 'RESTORE_FAILED');
  const message = job.error?.message || `The ${kind} failed`;
  return new CloudBoxError(message, { code, details: { [kind]: job }, [kind]: job });
}

async function poll(load, kind, options) {
  const { onProgress, intervalMs = 500, timeoutMs, signal } = options;
  const deadline = timeoutMs !== undefined ? Date.now() + timeoutMs : Infinity;
  let last;
  for (;;) {
    const job = await load();
    const marker = JSON.stringify([job.status, job.progress]);
    if (onProgress && marker !== last) {
      last = marker;
      await onProgress(job.progress, job);
    }
    if (job.status === 'completed') return job;
    if (job.status === 'failed') throw jobFailed(kind, job);
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new CloudBoxError(`Timed out waiting for ${kind} ${job.id}`, {
        code: 'TIMEOUT',
        details: { [kind]: job },
        [kind]: job,
      });
    }
    await sleep(Math.min(intervalMs, remaining), signal);
  }
}

/** The retention fields a dry run may override. */
const RETENTION_KEYS = ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly', 'maxAgeDays'];

/** `cloudbox.backups.policies`: backup policies (`/api/projects/{id}/backup-policies`, `/api/backup-policies/{id}`). */
export class BackupPolicies {
  constructor(client) {
    this._client = client;
  }

  get _t() {
    return this._client._transport;
  }

  /** The project's policies (an array; `.total` holds `X-Total-Count`). */
  async list(options = {}) {
    const { projectId, signal, ...query } = options;
    return this._t.json('GET', `/api/projects/${seg(this._client._project(projectId))}/backup-policies`, {
      query,
      signal,
    });
  }

  /**
   * Create a policy: `{name, schedule, timezone, enabled, retention: {keepLast, keepDaily,
   * keepWeekly, keepMonthly, maxAgeDays}, verifyAfterBackup, restoreDrill, webhookUrl,
   * webhookSecret, staleAfterHours}` (`name` and `schedule` required).
   */
  async create(input, options = {}) {
    const { projectId, signal } = options;
    return this._t.json('POST', `/api/projects/${seg(this._client._project(projectId))}/backup-policies`, {
      body: input,
      signal,
    });
  }

  async get(id, options = {}) {
    return this._t.json('GET', `/api/backup-policies/${seg(policyId(id))}`, { signal: options.signal });
  }

  /**
   * Change the fields given, only those (`retention` changes only the rules it names;
   * `null` stops using one). `webhookUrl: null` removes the webhook.
   */
  async update(id, changes, options = {}) {
    return this._t.json('PATCH', `/api/backup-policies/${seg(policyId(id))}`, {
      body: changes,
      signal: options.signal,
    });
  }

  /** Delete the policy and its run history; its backups stay. */
  async delete(id, options = {}) {
    await this._t.json('DELETE', `/api/backup-policies/${seg(policyId(id))}`, { signal: options.signal });
  }

  /** The policy's fired slots, newest first (an array; `.total` holds `X-Total-Count`). */
  async runs(id, options = {}) {
    const { signal, ...query } = options;
    return this._t.json('GET', `/api/backup-policies/${seg(policyId(id))}/runs`, { query, signal });
  }

  /**
   * What retention would delete now, deleting nothing. `keepLast`, `keepDaily`,
   * `keepWeekly`, `keepMonthly`, `maxAgeDays` replace the saved values for this preview.
   */
  async retentionDryRun(id, options = {}) {
    const { signal } = options;
    const query = {};
    for (const key of RETENTION_KEYS) if (options[key] !== undefined) query[key] = options[key];
    return this._t.json('GET', `/api/backup-policies/${seg(policyId(id))}/retention/dry-run`, { query, signal });
  }
}

/** A policy's id, given as the id or as the policy object. */
function policyId(ref) {
  return ref !== null && typeof ref === 'object' ? ref.id : ref;
}

/** `cloudbox.backups`: the spec's backup API (`/api/projects/{id}/backups`, `/api/backups/{id}`). */
export class Backups {
  constructor(client) {
    this._client = client;
    /** Backup policies: schedules, retention, checks and failure webhooks. */
    this.policies = new BackupPolicies(client);
  }

  get _t() {
    return this._client._transport;
  }

  /**
   * The project's backup storage: `{count, totalBytes, byType, oldest, newest,
   * newestVerifiedAt, quotaBytes}` (completed backups only).
   */
  async usage(options = {}) {
    const { projectId, signal } = options;
    return this._t.json('GET', `/api/projects/${seg(this._client._project(projectId))}/backups/usage`, { signal });
  }

  /**
   * Every project's backup storage (platform admins only): the server's totals,
   * `storageFreeBytes`, and a page of `projects` (biggest first; `limit`, `offset`,
   * `orderBy`); `projectsTotal` is the number of projects with backups.
   */
  async serverUsage(options = {}) {
    const { signal, ...query } = options;
    const response = await this._t.send('GET', '/api/admin/backups/usage', { query, signal });
    const usage = camelKeys(await response.json());
    const total = response.headers.get('x-total-count');
    usage.projectsTotal = total !== null && /^\d+$/.test(total) ? Number(total) : null;
    return usage;
  }

  /** Create a backup; answers at once with `status: 'creating'` while the job runs. */
  async create(input = {}, options = {}) {
    const { projectId, signal } = options;
    return this._t.json('POST', `/api/projects/${seg(this._client._project(projectId))}/backups`, {
      body: input,
      signal,
    });
  }

  /** The project's backups, newest first (an array; `.total` holds `X-Total-Count`). */
  async list(options = {}) {
    const { projectId, signal, ...query } = options;
    return this._t.json('GET', `/api/projects/${seg(this._client._project(projectId))}/backups`, {
      query,
      signal,
    });
  }

  async get(id, options = {}) {
    return this._t.json('GET', `/api/backups/${seg(id)}`, { signal: options.signal });
  }

  async delete(id, options = {}) {
    await this._t.json('DELETE', `/api/backups/${seg(id)}`, { signal: options.signal });
  }

  /**
   * Restore a backup into its own project, or another one with `targetProjectId`.
   * With `wait: false` the server answers at once with the restore object (status
   * `pending`); otherwise with `{message, targetProjectId, restore}` when it is done.
   */
  async restore(id, options = {}) {
    const { signal, ...body } = options;
    return this._t.json('POST', `/api/backups/${seg(id)}/restore`, { body, signal });
  }

  /** The archive as a WHATWG `ReadableStream` of bytes (`start`/`end`, inclusive, for a byte range). */
  async download(id, options = {}) {
    const response = await this._downloadResponse(id, options);
    return response.body;
  }

  /** The whole archive (or range) in memory; a full download is checked against the server's SHA-256 digest. */
  async downloadArrayBuffer(id, options = {}) {
    const response = await this._downloadResponse(id, options);
    const buffer = await response.arrayBuffer();
    const expected = response.status === 200 ? digestHeaderHex(response.headers) : null;
    if (expected && options.verify !== false) {
      const actual = await sha256Hex(buffer);
      if (actual && actual !== expected) {
        throw new CloudBoxError('The downloaded archive does not match its SHA-256 digest', {
          code: 'CHECKSUM_MISMATCH',
          details: { expected, actual },
        });
      }
    }
    return buffer;
  }

  /** The raw `Response` of the download (headers: Content-Length, Content-Disposition, Digest). */
  _downloadResponse(id, options = {}) {
    return this._t.send('GET', `/api/backups/${seg(id)}/download`, {
      headers: { Accept: 'application/gzip', ...rangeHeader(options) },
      signal: options.signal,
    });
  }

  /**
   * Import an archive (Blob/File, ArrayBuffer, typed array or ReadableStream) as a
   * completed backup. Sent as a raw `application/gzip` body with `X-Checksum-SHA256`
   * (computed here for in-memory data when not given) and `X-Backup-Name`; sent as
   * multipart/form-data instead when a `description` or a non-ASCII `name` is given.
   */
  async import(data, options = {}) {
    const { name, description, projectId, signal, filename = 'backup.tar.gz' } = options;
    const path = `/api/projects/${seg(this._client._project(projectId))}/backups/import`;
    let sha256 = options.sha256 ? String(options.sha256).replace(/^sha256:/i, '') : undefined;
    let body = isStream(data) ? data : toBlob(data, 'application/gzip');
    if (!sha256 && !isStream(body) && options.checksum !== false) sha256 = (await sha256Hex(body)) ?? undefined;
    const multipart = description !== undefined || (name !== undefined && !/^[\x20-\x7e]*$/.test(name));
    if (multipart) {
      if (isStream(body)) body = new Blob([await streamToArrayBuffer(body)]);
      const form = new FormData();
      if (name !== undefined) form.append('name', name);
      if (description !== undefined) form.append('description', description);
      if (sha256) form.append('sha256', sha256);
      form.append('file', body, filename);
      return this._t.json('POST', path, { body: form, signal });
    }
    const headers = { 'Content-Type': 'application/gzip' };
    if (sha256) headers['X-Checksum-SHA256'] = sha256;
    if (name !== undefined) headers['X-Backup-Name'] = name;
    return this._t.json('POST', path, { body, headers, signal });
  }

  /** Re-read the stored archive and check every checksum: `{ok, checkedMembers, problems, checksum, size}`. */
  async verify(id, options = {}) {
    return this._t.json('POST', `/api/backups/${seg(id)}/verify`, { signal: options.signal });
  }

  /** Ask a running backup to stop; it then ends `failed` with error code `BACKUP_CANCELLED`. */
  async cancel(id, options = {}) {
    return this._t.json('POST', `/api/backups/${seg(id)}/cancel`, { signal: options.signal });
  }

  /**
   * Poll until the backup is `completed` (resolves with it) or `failed` (rejects with a
   * CloudBoxError whose `code` is the backup's error code, e.g. `BACKUP_CANCELLED`, or
   * `BACKUP_FAILED`, and whose `backup` is the final object). `onProgress(progress, backup)`
   * is called whenever the progress changes.
   */
  async waitForCompletion(id, options = {}) {
    return poll(() => this.get(id, { signal: options.signal }), 'backup', options);
  }

  /**
   * Server-sent events of a backup: `{event: 'progress', data: {id, status, phase, percent, ...}}`
   * while it runs, then one `{event: 'status', data: <backup>}`; then the iteration ends.
   * Breaking out of the loop closes the connection.
   */
  async *events(id, options = {}) {
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal.reason);
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await this._t.send('GET', `/api/backups/${seg(id)}/events`, {
        headers: { Accept: 'text/event-stream' },
        signal: controller.signal,
      });
      for await (const message of parseEventStream(response.body)) {
        let data = message.data;
        try {
          data = camelKeys(JSON.parse(data));
        } catch {
          /* not JSON: keep the text */
        }
        const event = { event: message.event, data };
        if (message.id !== undefined) event.id = message.id;
        yield event;
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      controller.abort();
    }
  }
}

/** `cloudbox.restores`: restore jobs (`/api/restores/{id}`, `/api/projects/{id}/restores`). */
export class Restores {
  constructor(client) {
    this._client = client;
  }

  get _t() {
    return this._client._transport;
  }

  async get(id, options = {}) {
    return this._t.json('GET', `/api/restores/${seg(id)}`, { signal: options.signal });
  }

  /** Restores whose target is the project, newest first. */
  async list(options = {}) {
    const { projectId, signal, ...query } = options;
    return this._t.json('GET', `/api/projects/${seg(this._client._project(projectId))}/restores`, {
      query,
      signal,
    });
  }

  /** Undo a completed restore (restores its pre-restore backup). Same answers as `backups.restore`. */
  async undo(id, options = {}) {
    const { signal, wait } = options;
    return this._t.json('POST', `/api/restores/${seg(id)}/undo`, { query: { wait }, signal });
  }

  /** Poll until a restore started with `wait: false` is `completed` or `failed` (rejects with its error code). */
  async waitForCompletion(id, options = {}) {
    return poll(() => this.get(id, { signal: options.signal }), 'restore', options);
  }
}
