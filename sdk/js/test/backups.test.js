// cloudbox.backups and cloudbox.restores against a live server: every method, the
// progress APIs, and the server's error codes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { CloudBox, CloudBoxError } from '../src/index.js';
import { PASSWORD, fillProject, randomBytes, readAll, registerUser, rejectsWithCode, startServer } from './helpers.js';

let server;
let owner; // owner of projects `small` and `big`
let small; // CloudBox scoped to a small project (fast backups)
let big; // CloudBox scoped to a project with ~20 MB of random files (backups take a while)
let developer;
let viewer;
let outsider;
let keyClient; // API key with scopes admin + backups
let noBackupsKeyClient; // API key without the backups scope
let completed; // a completed backup of `small`

async function hex(buffer) {
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

before(async () => {
  server = await startServer();
  const endpoint = server.endpoint;
  owner = await registerUser(endpoint, { name: 'Owner' });
  const p1 = await owner.client.projects.create({ name: 'Small' });
  const p2 = await owner.client.projects.create({ name: 'Big' });
  small = owner.client.project(p1.id);
  big = owner.client.project(p2.id);
  await fillProject(small, { documents: 10, files: 1, fileBytes: 64 * 1024 });
  await fillProject(big, { documents: 5, files: 5, fileBytes: 4 * 1024 * 1024 });

  const dev = await registerUser(endpoint, { name: 'Dev' });
  const view = await registerUser(endpoint, { name: 'Viewer' });
  const out = await registerUser(endpoint, { name: 'Outsider' });
  await small.members.add({ email: dev.email, role: 'developer' });
  await small.members.add({ email: view.email, role: 'viewer' });
  developer = dev.client.project(p1.id);
  viewer = view.client.project(p1.id);
  outsider = out.client.project(p1.id);

  const adminKey = await small.apiKeys.create({ name: 'backups', scopes: ['admin', 'backups'] });
  const plainKey = await small.apiKeys.create({ name: 'no-backups', scopes: ['admin'] });
  keyClient = new CloudBox({ endpoint, projectId: p1.id, apiKey: adminKey.key });
  noBackupsKeyClient = new CloudBox({ endpoint, projectId: p1.id, apiKey: plainKey.key });
});

after(async () => {
  await server?.stop();
});

describe('backups', () => {
  test('create answers `creating`; waitForCompletion reports progress and resolves completed', async () => {
    const backup = await small.backups.create({ name: 'First', description: 'the first one', type: 'manual' });
    assert.equal(backup.status, 'creating');
    assert.equal(backup.name, 'First');
    assert.equal(backup.description, 'the first one');
    assert.equal(backup.type, 'manual');
    assert.equal(backup.projectId, small.projectId);
    assert.equal(backup.size, null);
    assert.ok('filePath' in backup && 'createdAt' in backup && 'backupVersion' in backup);
    assert.equal(backup.createdBy.type, 'user');

    const seen = [];
    const done = await small.backups.waitForCompletion(backup.id, {
      intervalMs: 50,
      onProgress: (progress, current) => seen.push({ progress, status: current.status }),
    });
    assert.equal(done.status, 'completed');
    assert.ok(done.size > 0);
    assert.match(done.checksum, /^sha256:[0-9a-f]{64}$/);
    assert.ok(done.completedAt);
    assert.equal(done.error, null);
    // Section names are data: kept exactly as the server names them.
    assert.equal(done.sections.documents, 10);
    assert.equal(done.sections.storage_buckets, 1);
    assert.ok(seen.length >= 1);
    for (const { progress } of seen) {
      assert.deepEqual(Object.keys(progress).sort(), ['bytesDone', 'bytesTotal', 'itemsDone', 'itemsTotal', 'percent', 'phase']);
    }
    assert.equal(seen.at(-1).status, 'completed');
    assert.equal(seen.at(-1).progress.percent, 100);
    completed = done;
  });

  test('create with the API key of the spec (scope backups) and get', async () => {
    const backup = await keyClient.backups.create({ name: 'By key', type: 'manual' });
    assert.equal(backup.createdBy.type, 'api_key');
    const got = await keyClient.backups.get(backup.id);
    assert.equal(got.id, backup.id);
    assert.equal((await keyClient.backups.waitForCompletion(backup.id, { intervalMs: 50 })).status, 'completed');
  });

  test('list returns an array, newest first, with total, limit, offset, orderBy', async () => {
    const all = await small.backups.list();
    assert.ok(Array.isArray(all));
    assert.equal(all.length, 2);
    assert.equal(all.total, 2);
    assert.deepEqual(all.map((b) => b.name), ['By key', 'First']);
    const page = await small.backups.list({ limit: 1, offset: 1 });
    assert.deepEqual(page.map((b) => b.name), ['First']);
    assert.equal(page.total, 2);
    const byName = await small.backups.list({ orderBy: 'name' });
    assert.deepEqual(byName.map((b) => b.name), ['By key', 'First']);
    const other = await owner.client.backups.list({ projectId: big.projectId });
    assert.equal(other.length, 0);
  });

  test('events: progress events, then one status event with the final backup', async () => {
    const backup = await big.backups.create({ name: 'Watched' });
    const events = [];
    for await (const event of big.backups.events(backup.id)) events.push(event);
    assert.ok(events.length >= 2, JSON.stringify(events.map((e) => e.event)));
    const last = events.at(-1);
    assert.equal(last.event, 'status');
    assert.equal(last.data.status, 'completed');
    assert.equal(last.data.id, backup.id);
    assert.match(last.data.checksum, /^sha256:/);
    const progress = events.slice(0, -1);
    assert.ok(progress.length >= 1);
    for (const event of progress) {
      assert.equal(event.event, 'progress');
      assert.equal(event.data.id, backup.id);
      assert.equal(event.data.status, 'creating');
      assert.equal(typeof event.data.itemsDone, 'number');
      assert.equal(typeof event.data.bytesTotal, 'number');
      assert.equal(typeof event.data.percent, 'number');
    }
    // A finished backup: one status event.
    const again = [];
    for await (const event of big.backups.events(backup.id)) again.push(event);
    assert.deepEqual(again.map((e) => e.event), ['status']);
  });

  test('events: leaving the loop early closes the stream', async () => {
    const backup = await big.backups.create({ name: 'Left early' });
    let count = 0;
    for await (const event of big.backups.events(backup.id)) {
      count += 1;
      assert.ok(['progress', 'status'].includes(event.event));
      break;
    }
    assert.equal(count, 1);
    await big.backups.waitForCompletion(backup.id, { intervalMs: 50 });
  });

  test('verify re-reads the stored archive', async () => {
    const report = await small.backups.verify(completed.id);
    assert.equal(report.ok, true);
    assert.ok(report.checkedMembers > 0);
    assert.deepEqual(report.problems, []);
    assert.equal(report.checksum, completed.checksum);
    assert.equal(report.size, completed.size);
    assert.ok((await small.backups.get(completed.id)).verifiedAt);
  });

  test('download returns a ReadableStream of the archive; downloadArrayBuffer and ranges', async () => {
    const stream = await small.backups.download(completed.id);
    assert.ok(stream instanceof ReadableStream);
    const bytes = await readAll(stream);
    assert.equal(bytes.length, completed.size);
    assert.equal(`sha256:${await hex(bytes)}`, completed.checksum);
    assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b]); // gzip

    const buffer = await small.backups.downloadArrayBuffer(completed.id);
    assert.ok(buffer instanceof ArrayBuffer);
    assert.deepEqual(new Uint8Array(buffer), bytes);

    const part = await readAll(await small.backups.download(completed.id, { start: 10, end: 19 }));
    assert.deepEqual(part, bytes.slice(10, 20));
    const tail = new Uint8Array(await small.backups.downloadArrayBuffer(completed.id, { start: bytes.length - 5 }));
    assert.deepEqual(tail, bytes.slice(-5));
  });

  test('import: raw application/gzip with X-Checksum-SHA256, multipart with a description, a stream', async () => {
    const archive = await small.backups.downloadArrayBuffer(completed.id);
    const sha = await hex(archive);

    const raw = await small.backups.import(archive, { name: 'Imported raw', sha256: sha });
    assert.equal(raw.status, 'completed');
    assert.equal(raw.origin, 'import');
    assert.equal(raw.name, 'Imported raw');
    assert.equal(raw.checksum, `sha256:${sha}`);
    assert.equal(raw.size, archive.byteLength);

    const multipart = await small.backups.import(new Blob([archive]), {
      name: 'Importé',
      description: 'from another server',
      sha256: `sha256:${sha}`,
    });
    assert.equal(multipart.name, 'Importé');
    assert.equal(multipart.description, 'from another server');
    assert.equal(multipart.origin, 'import');

    const streamed = await small.backups.import(new Blob([archive]).stream(), { name: 'Streamed' });
    assert.equal(streamed.status, 'completed');
    assert.equal(streamed.name, 'Streamed');

    const plain = await small.backups.import(new Uint8Array(archive));
    assert.equal(plain.status, 'completed');

    // An imported backup restores like any other (dry run).
    const plan = await small.backups.restore(raw.id, { dryRun: true });
    assert.equal(plan.restore.dryRun, true);
  });

  test('import refuses a bad archive (INVALID_ARCHIVE) and a wrong checksum', async () => {
    await rejectsWithCode(small.backups.import(randomBytes(4096), { name: 'junk' }), 'INVALID_ARCHIVE', 422);
    const archive = await small.backups.downloadArrayBuffer(completed.id);
    await rejectsWithCode(small.backups.import(archive, { sha256: '0'.repeat(64) }), 'INVALID_ARCHIVE', 422);
    await rejectsWithCode(small.backups.import(archive, { sha256: 'not-a-checksum' }), 'VALIDATION_ERROR', 422);
    // Nothing is left behind.
    const names = (await small.backups.list({ limit: 100 })).map((b) => b.name);
    assert.ok(!names.includes('junk'));
  });

  test('cancel a running backup: waitForCompletion rejects with BACKUP_CANCELLED', async () => {
    const backup = await big.backups.create({ name: 'To cancel' });
    // While it runs: another backup, a download, a verify or a delete of it are refused.
    await Promise.all([
      rejectsWithCode(big.backups.create({ name: 'Second' }), 'BACKUP_IN_PROGRESS', 409),
      rejectsWithCode(big.backups.download(backup.id), 'BACKUP_INCOMPLETE', 409),
      rejectsWithCode(big.backups.verify(backup.id), 'BACKUP_INCOMPLETE', 409),
      rejectsWithCode(big.backups.delete(backup.id), 'BACKUP_IN_PROGRESS', 409),
    ]);
    const answer = await big.backups.cancel(backup.id);
    assert.equal(answer.id, backup.id);
    await assert.rejects(big.backups.waitForCompletion(backup.id, { intervalMs: 50 }), (error) => {
      assert.ok(error instanceof CloudBoxError);
      assert.equal(error.code, 'BACKUP_CANCELLED');
      assert.equal(error.backup.status, 'failed');
      assert.equal(error.backup.error.code, 'BACKUP_CANCELLED');
      assert.equal(error.details.backup.id, backup.id);
      return true;
    });
    await rejectsWithCode(big.backups.cancel(backup.id), 'BACKUP_NOT_RUNNING', 409);
  });

  test('waitForCompletion gives up after timeoutMs with TIMEOUT', async () => {
    const backup = await big.backups.create({ name: 'Slow' });
    await rejectsWithCode(big.backups.waitForCompletion(backup.id, { timeoutMs: 0 }), 'TIMEOUT');
    await big.backups.waitForCompletion(backup.id, { intervalMs: 50 });
  });

  test('delete removes the backup; then BACKUP_NOT_FOUND', async () => {
    const backup = await small.backups.create({ name: 'Doomed' });
    await small.backups.waitForCompletion(backup.id, { intervalMs: 50 });
    assert.equal(await small.backups.delete(backup.id), undefined);
    await rejectsWithCode(small.backups.get(backup.id), 'BACKUP_NOT_FOUND', 404);
    await rejectsWithCode(small.backups.delete(backup.id), 'BACKUP_NOT_FOUND', 404);
  });

  test('BACKUP_NOT_FOUND for unknown ids and for non-members', async () => {
    for (const call of [
      () => small.backups.get(987654),
      () => small.backups.delete(987654),
      () => small.backups.restore(987654),
      () => small.backups.download(987654),
      () => small.backups.verify(987654),
      () => small.backups.cancel(987654),
      () => small.backups.waitForCompletion(987654),
      () => small.backups.import(new Uint8Array(10), { projectId: 987654 }),
      async () => {
        for await (const _ of small.backups.events(987654));
      },
    ]) {
      await assert.rejects(call(), (e) => e instanceof CloudBoxError && /NOT_FOUND$/.test(e.code) && e.status === 404);
    }
    await rejectsWithCode(outsider.backups.get(completed.id), 'BACKUP_NOT_FOUND', 404);
    await rejectsWithCode(outsider.backups.restore(completed.id), 'BACKUP_NOT_FOUND', 404);
    await rejectsWithCode(outsider.backups.list(), 'PROJECT_NOT_FOUND', 404);
  });

  test('INSUFFICIENT_PERMISSIONS: an API key without the backups scope, a viewer, a developer on admin routes', async () => {
    await rejectsWithCode(noBackupsKeyClient.backups.list(), 'INSUFFICIENT_PERMISSIONS', 403);
    await rejectsWithCode(noBackupsKeyClient.backups.create({ name: 'x' }), 'INSUFFICIENT_PERMISSIONS', 403);
    await rejectsWithCode(noBackupsKeyClient.backups.get(completed.id), 'INSUFFICIENT_PERMISSIONS', 403);
    await rejectsWithCode(viewer.backups.list(), 'INSUFFICIENT_PERMISSIONS', 403);
    await rejectsWithCode(viewer.backups.create({ name: 'x' }), 'INSUFFICIENT_PERMISSIONS', 403);
    await rejectsWithCode(viewer.backups.get(completed.id), 'INSUFFICIENT_PERMISSIONS', 403);
    await rejectsWithCode(viewer.restores.list(), 'INSUFFICIENT_PERMISSIONS', 403);
    // Developers may list, get and verify, not download, restore, delete or import.
    assert.ok((await developer.backups.list()).length > 0);
    assert.equal((await developer.backups.get(completed.id)).id, completed.id);
    assert.equal((await developer.backups.verify(completed.id)).ok, true);
    await rejectsWithCode(developer.backups.download(completed.id), 'INSUFFICIENT_PERMISSIONS', 403);
    await rejectsWithCode(developer.backups.restore(completed.id), 'INSUFFICIENT_PERMISSIONS', 403);
    await rejectsWithCode(developer.backups.delete(completed.id), 'INSUFFICIENT_PERMISSIONS', 403);
    await rejectsWithCode(developer.backups.import(new Uint8Array(10)), 'INSUFFICIENT_PERMISSIONS', 403);
  });

  test('a validation error carries the server details', async () => {
    await assert.rejects(small.backups.create({ name: 'x', type: 'weekly' }), (error) => {
      assert.equal(error.code, 'VALIDATION_ERROR');
      assert.equal(error.status, 422);
      assert.ok(Array.isArray(error.details.fields));
      return true;
    });
  });
});

describe('restores', () => {
  let restoreId;

  test('restore to the same project answers when done', async () => {
    await small.documents('items').delete('item-1');
    const answer = await small.backups.restore(completed.id);
    assert.equal(answer.message, 'Backup restore completed successfully');
    assert.equal(answer.targetProjectId, small.projectId);
    assert.equal(answer.restore.status, 'completed');
    assert.equal(answer.restore.backupId, completed.id);
    assert.ok(answer.restore.preRestoreBackupId);
    assert.equal(answer.restore.options.preRestoreBackup, true);
    assert.equal((await small.documents('items').get('item-1')).data.n, 1);
    restoreId = answer.restore.id;
  });

  test('dry run with sections: a plan, nothing changed', async () => {
    await small.documents('items').delete('item-2');
    const answer = await small.backups.restore(completed.id, {
      dryRun: true,
      sections: ['collections', 'documents'],
      preRestoreBackup: false,
    });
    assert.equal(answer.restore.dryRun, true);
    assert.deepEqual(answer.restore.options.sections, ['collections', 'documents']);
    assert.equal(typeof answer.restore.plan, 'object');
    assert.ok(answer.restore.plan.sections.documents);
    await rejectsWithCode(small.documents('items').get('item-2'), 'DOCUMENT_NOT_FOUND', 404);
  });

  test('restore to another project with wait: false, then restores.waitForCompletion', async () => {
    const target = await owner.client.projects.create({ name: 'Copy' });
    const pending = await small.backups.restore(completed.id, {
      targetProjectId: target.id,
      wait: false,
      keepCredentialsActive: false,
    });
    assert.ok(['pending', 'running', 'completed'].includes(pending.status), pending.status);
    assert.equal(pending.targetProjectId, target.id);
    assert.equal(pending.sourceProjectId, small.projectId);
    const done = await small.restores.waitForCompletion(pending.id, { intervalMs: 50 });
    assert.equal(done.status, 'completed');
    const copy = owner.client.project(target.id);
    assert.equal((await copy.documents('items').list()).total, 10);
    // The restore is listed on its target project.
    const listed = await copy.restores.list();
    assert.deepEqual(listed.map((r) => r.id), [pending.id]);
    assert.equal(listed.total, 1);
  });

  test('restores.get and restores.list', async () => {
    const got = await small.restores.get(restoreId);
    assert.equal(got.id, restoreId);
    assert.equal(got.status, 'completed');
    assert.equal(got.targetProjectId, small.projectId);
    const list = await small.restores.list({ limit: 50 });
    assert.ok(list.some((r) => r.id === restoreId));
    assert.equal((await small.restores.list({ limit: 1 })).length, 1);
  });

  test('undo puts back what the restore replaced', async () => {
    await small.documents('items').delete('item-3');
    const answer = await small.backups.restore(completed.id);
    assert.equal((await small.documents('items').get('item-3')).data.n, 3);
    const undone = await small.restores.undo(answer.restore.id);
    assert.equal(undone.restore.undoOf, answer.restore.id);
    assert.equal(undone.restore.status, 'completed');
    await rejectsWithCode(small.documents('items').get('item-3'), 'DOCUMENT_NOT_FOUND', 404);
    // An undo made no pre-restore backup: it cannot be undone in turn.
    await rejectsWithCode(small.restores.undo(undone.restore.id, { wait: false }), 'RESTORE_NOT_UNDOABLE');
  });

  test('restore errors: RESTORE_NOT_FOUND, a target the caller cannot administer, INSUFFICIENT_PERMISSIONS', async () => {
    await rejectsWithCode(small.restores.get(987654), 'RESTORE_NOT_FOUND', 404);
    await rejectsWithCode(small.restores.undo(987654), 'RESTORE_NOT_FOUND', 404);
    await rejectsWithCode(small.backups.restore(completed.id, { targetProjectId: 987654 }), 'PROJECT_NOT_FOUND', 404);
    await rejectsWithCode(keyClient.backups.restore(completed.id, { targetProjectId: big.projectId }), 'PROJECT_NOT_FOUND', 404);
    await rejectsWithCode(developer.restores.undo(restoreId), 'INSUFFICIENT_PERMISSIONS', 403);
    await rejectsWithCode(viewer.restores.get(restoreId), 'INSUFFICIENT_PERMISSIONS', 403);
    await rejectsWithCode(small.backups.restore(completed.id, { sections: ['nope'] }), 'VALIDATION_ERROR', 422);
  });
});

test('a signed-out client gets UNAUTHORIZED; a bad token INVALID_TOKEN', async () => {
  const anonymous = new CloudBox({ endpoint: server.endpoint, projectId: small.projectId });
  await rejectsWithCode(anonymous.backups.list(), 'UNAUTHORIZED', 401);
  const bad = new CloudBox({ endpoint: server.endpoint, projectId: small.projectId, token: 'cbt_nope' });
  await rejectsWithCode(bad.backups.get(completed.id), 'INVALID_TOKEN', 401);
  const relogged = new CloudBox({ endpoint: `${server.endpoint}/api`, projectId: small.projectId });
  await relogged.auth.login({ email: owner.email, password: PASSWORD });
  assert.equal((await relogged.backups.get(completed.id)).id, completed.id);
});
