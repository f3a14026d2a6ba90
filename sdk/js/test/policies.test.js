// cloudbox.backups.policies and cloudbox.backups.usage / serverUsage against a live server
// (no webhook allow-list), plus what goes on the wire (fake fetch).
//
// A policy fires at most once a minute, so run history and a policy's automatic backups
// are seeded in the server's SQLite database (`sql`) instead of waited for.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { CloudBox, CloudBoxError } from '../src/index.js';
import { PYTHON, registerUser, rejectsWithCode, startServer } from './helpers.js';

/** Never fires during the tests (1 January, 03:00). */
const YEARLY = '0 3 1 1 *';
const SECRET = 'a-long-random-shared-secret';
/** A public address literal: accepted without DNS, never contacted (nothing fails). */
const PUBLIC_HOOK = 'https://1.1.1.1/cloudbox/hook-token';
const MISSING = '0000000000000000000000000z';

let server;
let owner; // { client, email, ... }: owner of `project`
let project; // CloudBox scoped to the owner's project

/** Run one SQL statement on the server's database (WAL: alongside the server). */
function sql(statement, params = []) {
  const script = [
    'import json, sqlite3, sys',
    'db = sqlite3.connect(sys.argv[1], timeout=30)',
    'with db:',
    '    db.execute(sys.argv[2], json.loads(sys.argv[3]))',
    'db.close()',
  ].join('\n');
  const args = ['-c', script, join(server.dataDir, 'cloudbox.db'), statement, JSON.stringify(params)];
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sql failed (${code}): ${stderr}`))));
  });
}

/** `YYYY-MM-DD HH:MM:SS.ffffff`, naive UTC: how the server stores times in SQLite. */
function sqliteTime(date) {
  return date.toISOString().replace('T', ' ').replace('Z', '000');
}

async function completed(client, name, type = 'manual') {
  const backup = await client.backups.create({ name, type });
  return client.backups.waitForCompletion(backup.id, { intervalMs: 50, timeoutMs: 60_000 });
}

async function freshProject(name) {
  const created = await owner.client.projects.create({ name });
  return owner.client.project(created.id);
}

before(async () => {
  server = await startServer();
  owner = await registerUser(server.endpoint, { name: 'Owner' });
  project = await freshProject('Policies');
});

after(async () => {
  await server?.stop();
});

describe('backups.policies', () => {
  test('create, list, get, update, delete (camelCase in and out)', async () => {
    const policies = (await freshProject('CRUD')).backups.policies;
    const created = await policies.create({
      name: 'nightly',
      schedule: '30 2 * * *',
      timezone: 'Europe/Berlin',
      retention: { keepLast: 7, keepWeekly: 4 },
      verifyAfterBackup: true,
      restoreDrill: false,
    });
    assert.match(created.id, /^[0-9a-z]+$/);
    assert.equal(created.name, 'nightly');
    assert.equal(created.schedule, '30 2 * * *');
    assert.equal(created.timezone, 'Europe/Berlin');
    assert.equal(created.enabled, true);
    assert.deepEqual(created.retention, { keepLast: 7, keepDaily: null, keepWeekly: 4, keepMonthly: null, maxAgeDays: null });
    assert.equal(created.verifyAfterBackup, true);
    assert.equal(created.restoreDrill, false);
    assert.equal(created.webhook, null);
    assert.equal(created.staleAfterHours, null);
    assert.match(created.nextRunAt, /T0[01]:30:00Z$/); // 02:30 in Berlin
    assert.equal(created.lastRunAt, null);
    assert.ok(created.createdAt && created.updatedAt);

    await policies.create({ name: 'alpha', schedule: '0 * * * *' });
    await policies.create({ name: 'zulu', schedule: YEARLY });
    const listed = await policies.list();
    assert.deepEqual(listed.map((p) => p.name), ['nightly', 'alpha', 'zulu']);
    assert.equal(listed.total, 3);
    const page = await policies.list({ orderBy: '-name', limit: 2, offset: 1 });
    assert.deepEqual(page.map((p) => p.name), ['nightly', 'alpha']);
    assert.equal(page.total, 3);
    const byNextRun = await policies.list({ orderBy: 'nextRunAt' }); // camelCase order_by
    assert.equal(byNextRun.length, 3);

    assert.deepEqual(await policies.get(created.id), created);
    assert.deepEqual(await policies.get(created), created); // the object works as its id

    let updated = await policies.update(created.id, { schedule: '0 4 * * *', timezone: 'UTC', retention: { keepDaily: 3 } });
    assert.match(updated.nextRunAt, /T04:00:00Z$/);
    assert.deepEqual(updated.retention, { keepLast: 7, keepDaily: 3, keepWeekly: 4, keepMonthly: null, maxAgeDays: null });
    updated = await policies.update(created, { name: 'renamed', retention: { keepWeekly: null } });
    assert.equal(updated.name, 'renamed');
    assert.equal(updated.retention.keepWeekly, null);
    assert.equal(updated.retention.keepLast, 7);
    const disabled = await policies.update(created.id, { enabled: false, verifyAfterBackup: false });
    assert.equal(disabled.enabled, false);
    assert.equal(disabled.nextRunAt, null);
    assert.equal(disabled.verifyAfterBackup, false);

    assert.equal(await policies.delete(created.id), undefined);
    await rejectsWithCode(policies.get(created.id), 'POLICY_NOT_FOUND', 404);
    assert.deepEqual((await policies.list()).map((p) => p.name), ['alpha', 'zulu']);
  });

  test('the webhook URL and secret are write-only; null removes the webhook', async () => {
    const policies = project.backups.policies;
    const created = await policies.create({
      name: 'hooked',
      schedule: YEARLY,
      webhookUrl: PUBLIC_HOOK,
      webhookSecret: SECRET,
      staleAfterHours: 36,
    });
    assert.deepEqual(created.webhook, { origin: 'https://1.1.1.1', hasSecret: true });
    assert.equal(created.staleAfterHours, 36);
    const text = JSON.stringify(await policies.get(created.id));
    assert.ok(!text.includes(SECRET) && !text.includes('hook-token'));
    const rotated = await policies.update(created.id, { webhookSecret: 'another-secret-0123456789' });
    assert.deepEqual(rotated.webhook, created.webhook);
    await rejectsWithCode(policies.update(created.id, { webhookUrl: null }), 'VALIDATION_ERROR', 422); // stale needs a hook
    const removed = await policies.update(created.id, { webhookUrl: null, staleAfterHours: null });
    assert.equal(removed.webhook, null);
    assert.equal(removed.staleAfterHours, null);
    await policies.delete(created.id);
  });

  test('errors: POLICY_NOT_FOUND, WEBHOOK_TARGET_FORBIDDEN, INVALID_SCHEDULE, INVALID_TIMEZONE', async () => {
    const policies = project.backups.policies;
    await rejectsWithCode(policies.get(MISSING), 'POLICY_NOT_FOUND', 404);
    await rejectsWithCode(policies.update(MISSING, { name: 'x' }), 'POLICY_NOT_FOUND', 404);
    await rejectsWithCode(policies.delete(MISSING), 'POLICY_NOT_FOUND', 404);
    await rejectsWithCode(policies.runs(MISSING), 'POLICY_NOT_FOUND', 404);
    await rejectsWithCode(policies.retentionDryRun(MISSING), 'POLICY_NOT_FOUND', 404);

    // no allow-list on this server: loopback, private and link-local targets are refused
    await rejectsWithCode(
      policies.create({ name: 'loopback', schedule: YEARLY, webhookUrl: 'http://127.0.0.1/hook', webhookSecret: SECRET }),
      'WEBHOOK_TARGET_FORBIDDEN',
      422,
    );
    for (const url of ['http://10.1.2.3/hook', 'http://169.254.169.254/latest', 'http://[::1]/hook']) {
      await rejectsWithCode(policies.create({ name: 'private', schedule: YEARLY, webhookUrl: url, webhookSecret: SECRET }), 'WEBHOOK_TARGET_FORBIDDEN', 422);
    }
    await rejectsWithCode(
      policies.create({ name: 'ftp', schedule: YEARLY, webhookUrl: 'ftp://1.1.1.1/x', webhookSecret: SECRET }),
      'INVALID_WEBHOOK_URL',
      422,
    );
    await rejectsWithCode(policies.create({ name: 'bad', schedule: 'every day at noon' }), 'INVALID_SCHEDULE', 422);
    await rejectsWithCode(policies.create({ name: 'never', schedule: '0 0 30 2 *' }), 'INVALID_SCHEDULE', 422);
    await rejectsWithCode(policies.create({ name: 'bad', schedule: YEARLY, timezone: 'Mars/Olympus_Mons' }), 'INVALID_TIMEZONE', 422);
    await rejectsWithCode(policies.create({ name: 'bad', schedule: YEARLY, retention: { keepLast: 0 } }), 'VALIDATION_ERROR', 422);
    assert.equal((await policies.list()).total, 0); // nothing refused was written

    const mine = await policies.create({ name: 'mine', schedule: YEARLY });
    const outsider = await registerUser(server.endpoint, { name: 'Outsider' });
    await rejectsWithCode(outsider.client.backups.policies.get(mine.id), 'POLICY_NOT_FOUND', 404);
    await rejectsWithCode(outsider.client.backups.policies.list({ projectId: project.projectId }), 'PROJECT_NOT_FOUND', 404);
    await policies.delete(mine.id);
  });

  test('POLICY_LIMIT_REACHED after 20 policies', async () => {
    const policies = (await freshProject('Limit')).backups.policies;
    for (let n = 0; n < 20; n++) await policies.create({ name: `p${n}`, schedule: YEARLY });
    await assert.rejects(policies.create({ name: 'one too many', schedule: YEARLY }), (error) => {
      assert.ok(error instanceof CloudBoxError);
      assert.equal(error.code, 'POLICY_LIMIT_REACHED');
      assert.equal(error.status, 409);
      assert.equal(error.details.max_policies, 20); // details are not renamed
      return true;
    });
  });

  test('runs (newest first) and retentionDryRun (saved rule, overrides)', async () => {
    const scoped = await freshProject('Runs');
    const policies = scoped.backups.policies;
    const policy = await policies.create({ name: 'hourly', schedule: YEARLY, retention: { keepLast: 2 } });
    const none = await policies.runs(policy.id);
    assert.deepEqual([...none], []);
    assert.equal(none.total, 0);

    const autos = [];
    for (let n = 0; n < 3; n++) autos.push(await completed(scoped, `auto ${n}`, 'automatic'));
    const manual = await completed(scoped, 'by hand');
    for (const backup of autos) {
      await sql("UPDATE backups SET type = 'automatic', policy_id = ? WHERE id = ?", [policy.id, backup.id]);
    }
    const slot = new Date('2026-01-01T03:00:00Z');
    const insert =
      'INSERT INTO policy_runs (project_id, id, policy_id, slot_time, status, reason, message, backup_id, details, created_at, finished_at)' +
      ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
    const rows = [
      ['r1', 0, 'completed', null, autos[0].id, { deleted_backups: [41] }],
      ['r2', 1, 'skipped', 'JOB_IN_PROGRESS', null, {}],
      ['r3', 2, 'failed', 'VERIFY_FAILED', null, {}],
    ];
    for (const [id, hours, status, reason, backupId, details] of rows) {
      const at = sqliteTime(new Date(slot.getTime() + hours * 3_600_000));
      await sql(insert, [scoped.projectId, `${policy.id}${id}`, policy.id, at, status, reason, null, backupId, JSON.stringify(details), at, at]);
    }

    const runs = await policies.runs(policy);
    assert.equal(runs.total, 3);
    assert.deepEqual(runs.map((r) => r.status), ['failed', 'skipped', 'completed']);
    assert.deepEqual(runs.map((r) => r.reason), ['VERIFY_FAILED', 'JOB_IN_PROGRESS', null]);
    const last = runs.at(-1);
    assert.equal(last.policyId, policy.id);
    assert.equal(last.backupId, autos[0].id);
    assert.equal(last.slotTime, '2026-01-01T03:00:00Z');
    assert.deepEqual(last.details, { deleted_backups: [41] }); // server data: keys not renamed
    assert.ok(last.finishedAt && last.createdAt);
    const oldestFirst = await policies.runs(policy.id, { orderBy: 'slotTime', limit: 1 });
    assert.deepEqual(oldestFirst.map((r) => r.status), ['completed']);
    assert.equal(oldestFirst.total, 3);

    const preview = await policies.retentionDryRun(policy.id);
    assert.equal(preview.policyId, policy.id);
    assert.ok(preview.evaluatedAt);
    assert.equal(preview.retention.keepLast, 2);
    assert.deepEqual(preview.keep.map((i) => i.backupId), [autos[2].id, autos[1].id]);
    assert.deepEqual(preview.delete.map((i) => i.backupId), [autos[0].id]);
    assert.ok(preview.keep[0].reasons.includes('keep_last'));
    assert.deepEqual(Object.keys(preview.delete[0]).sort(), ['backupId', 'createdAt', 'name', 'reasons', 'size']);
    assert.equal(preview.deleteBytes, autos[0].size);
    assert.ok(![...preview.keep, ...preview.delete].some((i) => i.backupId === manual.id));

    const narrower = await policies.retentionDryRun(policy, { keepLast: 1, maxAgeDays: 30 });
    assert.deepEqual(narrower.retention, { keepLast: 1, keepDaily: null, keepWeekly: null, keepMonthly: null, maxAgeDays: 30 });
    assert.deepEqual(narrower.keep.map((i) => i.backupId), [autos[2].id]);
    assert.equal(narrower.deleteBytes, autos[0].size + autos[1].size);
    assert.equal((await scoped.backups.list()).length, 4); // nothing was deleted
    assert.equal((await policies.get(policy.id)).retention.keepLast, 2);
  });
});

describe('backups.usage and serverUsage', () => {
  test('usage: counts and bytes of the completed backups, per type', async () => {
    const scoped = await freshProject('Usage');
    const empty = await scoped.backups.usage();
    assert.deepEqual(empty, {
      count: 0,
      totalBytes: 0,
      byType: {},
      oldest: null,
      newest: null,
      newestVerifiedAt: null,
      quotaBytes: null,
    });
    const first = await completed(scoped, 'one');
    const second = await completed(scoped, 'two', 'automatic');
    await scoped.backups.verify(second.id);
    const usage = await owner.client.backups.usage({ projectId: scoped.projectId });
    assert.equal(usage.count, 2);
    assert.equal(usage.totalBytes, first.size + second.size);
    assert.deepEqual(usage.byType, {
      manual: { count: 1, totalBytes: first.size },
      automatic: { count: 1, totalBytes: second.size },
    });
    assert.equal(usage.oldest, first.createdAt);
    assert.equal(usage.newest, second.createdAt);
    assert.ok(usage.newestVerifiedAt);
  });

  test('serverUsage: platform admins only (INSUFFICIENT_PERMISSIONS otherwise)', async () => {
    const scoped = await freshProject('Counted');
    const backup = await completed(scoped, 'counted');
    await rejectsWithCode(owner.client.backups.serverUsage(), 'INSUFFICIENT_PERMISSIONS', 403);

    const admin = await registerUser(server.endpoint, { name: 'Admin' });
    await sql('UPDATE users SET is_platform_admin = 1 WHERE email = ?', [admin.email]);
    const usage = await admin.client.backups.serverUsage({ limit: 1000 });
    assert.ok(usage.projectsTotal >= 1);
    assert.ok(usage.count >= 1 && usage.totalBytes >= backup.size);
    assert.ok(usage.storageFreeBytes === null || usage.storageFreeBytes > 0);
    const mine = usage.projects.filter((p) => p.projectId === scoped.projectId);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].projectName, 'Counted');
    assert.equal(mine[0].count, 1);
    assert.equal(mine[0].totalBytes, backup.size);
    const one = await admin.client.backups.serverUsage({ limit: 1, orderBy: '-projectId' });
    assert.equal(one.projects.length, 1);
    assert.equal(one.projectsTotal, usage.projectsTotal);
  });

  test('a backup shows its restore drill as `drill` (null when none ran)', async () => {
    const scoped = await freshProject('Drill');
    const backup = await completed(scoped, 'drilled', 'automatic');
    assert.equal(backup.drill, null);
    const drill = { ok: false, checked_at: '2026-06-30T00:31:40Z', problems: ['documents differ'] };
    await sql('UPDATE backups SET drill = ? WHERE id = ?', [JSON.stringify(drill), backup.id]);
    const got = await scoped.backups.get(backup.id);
    assert.deepEqual(got.drill, { ok: false, checkedAt: '2026-06-30T00:31:40Z', problems: ['documents differ'] });
  });
});

describe('on the wire', () => {
  function recording() {
    const calls = [];
    const fetch = async (url, init = {}) => {
      calls.push({ url: new URL(String(url)), method: init.method, body: init.body ? JSON.parse(init.body) : undefined });
      return new Response('{}', { status: 200, headers: { 'Content-Type': 'application/json', 'X-Total-Count': '7' } });
    };
    return { calls, client: new CloudBox({ endpoint: 'http://cloudbox.test', projectId: 5, token: 't', fetch }) };
  }

  test('bodies and queries are snake_case; only the fields given are sent', async () => {
    const { calls, client } = recording();
    await client.backups.policies.create({ name: 'n', schedule: YEARLY, retention: { maxAgeDays: 30 }, webhookUrl: undefined });
    await client.backups.policies.update('p1', { webhookUrl: null, staleAfterHours: null, retention: { keepLast: 3 } });
    await client.backups.policies.retentionDryRun({ id: 'p1' }, { keepDaily: 7, signal: undefined, other: 1 });
    await client.backups.policies.runs('p1', { orderBy: '-slotTime', limit: 2 });
    await client.backups.policies.list({ projectId: 9 });
    const all = await client.backups.serverUsage({ orderBy: '-totalBytes' });
    assert.deepEqual(
      calls.map((c) => `${c.method} ${c.url.pathname}${c.url.search}`),
      [
        'POST /api/projects/5/backup-policies',
        'PATCH /api/backup-policies/p1',
        'GET /api/backup-policies/p1/retention/dry-run?keep_daily=7',
        'GET /api/backup-policies/p1/runs?order_by=-slot_time&limit=2',
        'GET /api/projects/9/backup-policies',
        'GET /api/admin/backups/usage?order_by=-total_bytes',
      ],
    );
    assert.deepEqual(calls[0].body, { name: 'n', schedule: YEARLY, retention: { max_age_days: 30 } });
    assert.deepEqual(calls[1].body, { webhook_url: null, stale_after_hours: null, retention: { keep_last: 3 } });
    assert.equal(all.projectsTotal, 7);
    await assert.rejects(client.backups.policies.get(''), (error) => error.code === 'INVALID_ARGUMENT');
  });
});
