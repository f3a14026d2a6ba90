// Pieces of the SDK that need no server: key conversion, endpoint and query handling,
// the event-stream parser, error mapping, what goes on the wire (with a fake fetch).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';

import DefaultCloudBox, { CloudBox, CloudBoxError, camelKeys, parseEventStream, snakeKeys } from '../src/index.js';
import { normalizeEndpoint, queryString } from '../src/http.js';

function fakeFetch(handler) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    const call = { url: String(url), method: init.method, headers: init.headers ?? {}, body: init.body, init };
    calls.push(call);
    return handler(call);
  };
  return { fetch, calls };
}

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

function streamOf(chunks) {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
}

test('CloudBox is the named and the default export; CloudBoxError extends Error', () => {
  assert.equal(DefaultCloudBox, CloudBox);
  const error = new CloudBoxError('boom', { status: 404, code: 'BACKUP_NOT_FOUND', details: { a: 1 } });
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'CloudBoxError');
  assert.deepEqual([error.status, error.code, error.details, error.message], [404, 'BACKUP_NOT_FOUND', { a: 1 }, 'boom']);
});

test('keys: camelCase <-> snake_case deeply, user data left alone', () => {
  const wire = {
    project_id: 1,
    created_by: { type: 'user', user_email: 'a@b' },
    progress: { items_done: 2, bytes_total: 3 },
    list_of: [{ inner_key: 1 }],
    data: { some_key: { deep_key: 1 } },
    profile: { first_name: 'A' },
    settings: { theme_color: 'x' },
    schema: { properties: { due_date: {} } },
    sections: { storage_buckets: 1 },
    details: { order_by: 'x' },
    environment: { NODE_ENV: 'x' },
  };
  const js = camelKeys(wire);
  assert.deepEqual(js, {
    projectId: 1,
    createdBy: { type: 'user', userEmail: 'a@b' },
    progress: { itemsDone: 2, bytesTotal: 3 },
    listOf: [{ innerKey: 1 }],
    data: { some_key: { deep_key: 1 } },
    profile: { first_name: 'A' },
    settings: { theme_color: 'x' },
    schema: { properties: { due_date: {} } },
    sections: { storage_buckets: 1 },
    details: { order_by: 'x' },
    environment: { NODE_ENV: 'x' },
  });
  assert.deepEqual(snakeKeys(js), wire);
  assert.deepEqual(snakeKeys({ targetProjectId: 2, dryRun: true, skip: undefined, data: { aB: 1 } }), {
    target_project_id: 2,
    dry_run: true,
    data: { aB: 1 },
  });
  assert.deepEqual(camelKeys([1, 'a_b', null, { a_b: [{ c_d: 1 }] }]), [1, 'a_b', null, { aB: [{ cD: 1 }] }]);
});

test('endpoint: with or without a trailing /api and slashes', () => {
  for (const value of ['http://h:8080', 'http://h:8080/', 'http://h:8080/api', 'http://h:8080/api/', ' http://h:8080/api// ']) {
    assert.equal(normalizeEndpoint(value), 'http://h:8080');
  }
  assert.equal(normalizeEndpoint('https://x.io/cloudbox/api'), 'https://x.io/cloudbox');
  assert.equal(new CloudBox({ endpoint: 'http://h:8080/api/' }).endpoint, 'http://h:8080');
});

test('query strings: snake_case names, orderBy values, filter as JSON, nothing for undefined', () => {
  assert.equal(queryString({ limit: 10, offset: 0, orderBy: '-createdAt', skip: undefined, none: null }), '?limit=10&offset=0&order_by=-created_at');
  assert.equal(queryString({ filter: { done_flag: true } }), `?filter=${encodeURIComponent('{"done_flag":true}')}`);
  assert.equal(queryString({ folderPath: 'a/b' }), '?folder_path=a%2Fb');
  assert.equal(queryString({}), '');
});

test('event stream parser: split chunks, CRLF, comments, multi-line data, ids, retry', async () => {
  const bytes = new TextEncoder().encode('event: st€tus\ndata: {"a":1}\n\n');
  const chunks = [
    'retry: 2000\n\n',
    ': keep-alive\n\n',
    'event: progress\r\nda',
    'ta: {"items_done": 1}\r\n\r\n',
    'data: line one\ndata: line two\nid: 7\n\n',
    bytes.slice(0, 10),
    bytes.slice(10),
    'event: partial\ndata: never dispatched',
  ];
  const events = [];
  for await (const event of parseEventStream(streamOf(chunks))) events.push(event);
  assert.deepEqual(events, [
    { event: 'progress', data: '{"items_done": 1}', retry: 2000 },
    { event: 'message', data: 'line one\nline two', id: '7', retry: 2000 },
    { event: 'st€tus', data: '{"a":1}', id: '7', retry: 2000 },
  ]);
});

test('backups.events parses JSON data to camelCase and stops the stream when the loop ends', async () => {
  let cancelled = false;
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('event: progress\ndata: {"id": 1, "items_done": 5}\n\n'));
    },
    cancel() {
      cancelled = true;
    },
  });
  const { fetch, calls } = fakeFetch(() => new Response(body, { headers: { 'Content-Type': 'text/event-stream' } }));
  const cloudbox = new CloudBox({ endpoint: 'http://x', projectId: 1, apiKey: 'cbk_k', fetch });
  for await (const event of cloudbox.backups.events(1)) {
    assert.deepEqual(event, { event: 'progress', data: { id: 1, itemsDone: 5 } });
    break;
  }
  assert.equal(calls[0].url, 'http://x/api/backups/1/events');
  assert.equal(calls[0].headers.Accept, 'text/event-stream');
  assert.ok(cancelled || calls[0].init.signal.aborted);
});

test('on the wire: credentials, JSON bodies in snake_case, the spec restore body', async () => {
  const { fetch, calls } = fakeFetch((call) =>
    call.url.endsWith('/restore')
      ? json(200, { message: 'Backup restore completed successfully', target_project_id: 2, restore: { id: 9, dry_run: false } })
      : json(201, { id: 5, status: 'creating', project_id: 1 }),
  );
  const cloudbox = new CloudBox({ endpoint: 'http://x/api', projectId: 1, apiKey: 'cbk_key', headers: { 'X-Extra': '1' }, fetch });
  const backup = await cloudbox.backups.create({ name: 'n', description: 'd', type: 'manual' });
  assert.deepEqual(backup, { id: 5, status: 'creating', projectId: 1 });
  assert.equal(calls[0].method, 'POST');
  assert.equal(calls[0].url, 'http://x/api/projects/1/backups');
  assert.equal(calls[0].headers['X-API-Key'], 'cbk_key');
  assert.equal(calls[0].headers['X-Extra'], '1');
  assert.equal(calls[0].headers['Content-Type'], 'application/json');
  assert.equal(calls[0].headers.Authorization, undefined);
  assert.deepEqual(JSON.parse(calls[0].body), { name: 'n', description: 'd', type: 'manual' });

  const answer = await cloudbox.backups.restore(5, { targetProjectId: 2 });
  assert.equal(answer.targetProjectId, 2);
  assert.equal(answer.restore.dryRun, false);
  assert.equal(calls[1].url, 'http://x/api/backups/5/restore');
  assert.deepEqual(JSON.parse(calls[1].body), { target_project_id: 2 });
  await cloudbox.backups.restore(5);
  assert.deepEqual(JSON.parse(calls[2].body), {});
  await cloudbox.backups.restore(5, { dryRun: true, sections: ['storage_buckets'], preRestoreBackup: false, keepCredentialsActive: true, wait: false });
  assert.deepEqual(JSON.parse(calls[3].body), {
    dry_run: true,
    sections: ['storage_buckets'],
    pre_restore_backup: false,
    keep_credentials_active: true,
    wait: false,
  });

  const withToken = new CloudBox({ endpoint: 'http://x', projectId: 3, token: 'cbt_t', fetch });
  await withToken.project(4).backups.create({ name: 'x' });
  assert.equal(calls[4].url, 'http://x/api/projects/4/backups');
  assert.equal(calls[4].headers.Authorization, 'Bearer cbt_t');
  assert.equal(calls[4].headers['X-API-Key'], undefined);
});

test('import: raw application/gzip with X-Checksum-SHA256 (computed when not given), multipart for a description', async () => {
  const { fetch, calls } = fakeFetch(() => json(201, { id: 1, status: 'completed', origin: 'import' }));
  const cloudbox = new CloudBox({ endpoint: 'http://x', projectId: 1, token: 'cbt_t', fetch });
  const bytes = new TextEncoder().encode('abc');
  const abcSha = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
  await cloudbox.backups.import(bytes, { name: 'Nightly' });
  assert.equal(calls[0].url, 'http://x/api/projects/1/backups/import');
  assert.equal(calls[0].headers['Content-Type'], 'application/gzip');
  assert.equal(calls[0].headers['X-Checksum-SHA256'], abcSha);
  assert.equal(calls[0].headers['X-Backup-Name'], 'Nightly');
  assert.ok(calls[0].body instanceof Blob);
  await cloudbox.backups.import(bytes.buffer, { sha256: `sha256:${'a'.repeat(64)}` });
  assert.equal(calls[1].headers['X-Checksum-SHA256'], 'a'.repeat(64));
  await cloudbox.backups.import(new Blob([bytes]).stream());
  assert.equal(calls[2].headers['X-Checksum-SHA256'], undefined);
  assert.equal(calls[2].init.duplex, 'half');
  await cloudbox.backups.import(new Blob([bytes]), { name: 'Ünïcode', description: 'd' });
  const form = calls[3].body;
  assert.ok(form instanceof FormData);
  assert.equal(form.get('name'), 'Ünïcode');
  assert.equal(form.get('description'), 'd');
  assert.equal(form.get('sha256'), abcSha);
  assert.equal(await form.get('file').text(), 'abc');
  assert.equal(calls[3].headers['Content-Type'], undefined);
});

test('errors: the server envelope, non-JSON answers, invalid JSON, checksum mismatch', async () => {
  const { fetch } = fakeFetch((call) => {
    if (call.url.endsWith('/api/backups/1')) return json(404, { error: { code: 'BACKUP_NOT_FOUND', message: 'Backup not found', details: {} } });
    if (call.url.endsWith('/api/backups/2')) return new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' });
    if (call.url.endsWith('/api/backups/3')) return new Response('{not json', { status: 200 });
    return new Response('abc', { headers: { Digest: `sha-256=${btoa('x'.repeat(32))}` } });
  });
  const cloudbox = new CloudBox({ endpoint: 'http://x', projectId: 1, fetch });
  await assert.rejects(cloudbox.backups.get(1), { name: 'CloudBoxError', status: 404, code: 'BACKUP_NOT_FOUND', message: 'Backup not found' });
  await assert.rejects(cloudbox.backups.get(2), (e) => e instanceof CloudBoxError && e.status === 502 && e.code === 'HTTP_502' && /bad gateway/.test(e.details.body));
  await assert.rejects(cloudbox.backups.get(3), { code: 'INVALID_RESPONSE' });
  await assert.rejects(cloudbox.backups.downloadArrayBuffer(4), { code: 'CHECKSUM_MISMATCH' });
  assert.equal(new TextDecoder().decode(await cloudbox.backups.downloadArrayBuffer(4, { verify: false })), 'abc');
});

test('network failures are CloudBoxError NETWORK_ERROR; a missing project is PROJECT_REQUIRED', async () => {
  const port = await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = s.address();
      s.close(() => resolve(p));
    });
  });
  const cloudbox = new CloudBox({ endpoint: `http://127.0.0.1:${port}`, projectId: 1 });
  await assert.rejects(cloudbox.backups.list(), (e) => e instanceof CloudBoxError && e.code === 'NETWORK_ERROR' && e.status === 0 && e.cause !== undefined);
  await assert.rejects(cloudbox.health(), { code: 'NETWORK_ERROR' });
  const noProject = new CloudBox({ endpoint: `http://127.0.0.1:${port}` });
  await assert.rejects(noProject.backups.list(), { code: 'PROJECT_REQUIRED' });
  await assert.rejects(noProject.documents('x').list(), { code: 'PROJECT_REQUIRED' });
  await assert.rejects(cloudbox.backups.get(''), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => new CloudBox({}), { code: 'INVALID_ARGUMENT' });
});

test('an aborted request rejects with the abort reason', async () => {
  const { fetch } = fakeFetch((call) => {
    call.init.signal.throwIfAborted();
    return json(200, {});
  });
  const cloudbox = new CloudBox({ endpoint: 'http://x', projectId: 1, fetch });
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(cloudbox.backups.get(1, { signal: controller.signal }), { name: 'AbortError' });
  await assert.rejects(cloudbox.backups.waitForCompletion(1, { signal: controller.signal }), { name: 'AbortError' });
});
