// Platform APIs against a live server: auth, projects, members, API keys, CORS, audit log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { CloudBox } from '../src/index.js';
import { PASSWORD, registerUser, rejectsWithCode, startServer, uniqueEmail } from './helpers.js';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

function memoryStorage() {
  const map = new Map();
  return {
    map,
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => map.set(k, String(v)),
    removeItem: (k) => map.delete(k),
  };
}

describe('auth', () => {
  test('register stores the token; me; logout revokes and forgets it', async () => {
    const cloudbox = new CloudBox({ endpoint: server.endpoint });
    const email = uniqueEmail('auth');
    const answer = await cloudbox.auth.register({ email, password: PASSWORD, name: 'Ada' });
    assert.equal(answer.user.email, email);
    assert.equal(answer.user.isPlatformAdmin, false);
    assert.match(answer.token, /^cbt_/);
    assert.ok(answer.expiresAt);
    assert.equal(cloudbox.token, answer.token);
    assert.equal(cloudbox.auth.getToken(), answer.token);
    const me = await cloudbox.auth.me();
    assert.equal(me.email, email);
    assert.equal(me.name, 'Ada');
    assert.ok(me.createdAt);
    await cloudbox.auth.logout();
    assert.equal(cloudbox.token, null);
    await rejectsWithCode(cloudbox.auth.me(), 'UNAUTHORIZED', 401);
    cloudbox.auth.setToken(answer.token);
    await rejectsWithCode(cloudbox.auth.me(), 'INVALID_TOKEN', 401);
  });

  test('login stores the token; wrong password and taken email surface the server codes', async () => {
    const { email } = await registerUser(server.endpoint);
    const cloudbox = new CloudBox({ endpoint: `${server.endpoint}/api/` });
    const answer = await cloudbox.auth.login({ email, password: PASSWORD });
    assert.equal(answer.user.email, email);
    assert.equal((await cloudbox.auth.me()).email, email);
    await rejectsWithCode(cloudbox.auth.login({ email, password: 'wrong-password-1' }), 'INVALID_CREDENTIALS', 401);
    await rejectsWithCode(
      cloudbox.auth.register({ email, password: PASSWORD, name: 'Again' }),
      'EMAIL_TAKEN',
      409,
    );
    await rejectsWithCode(cloudbox.auth.register({ email: 'not-an-email', password: 'x', name: '' }), 'VALIDATION_ERROR', 422);
  });

  test('a storage keeps the token across clients (e.g. localStorage in a browser)', async () => {
    const storage = memoryStorage();
    const first = new CloudBox({ endpoint: server.endpoint, storage, storageKey: 'app' });
    const { user } = await first.auth.register({ email: uniqueEmail('store'), password: PASSWORD, name: 'S' });
    assert.equal(storage.getItem('app.token'), first.token);
    const second = new CloudBox({ endpoint: server.endpoint, storage, storageKey: 'app' });
    assert.equal((await second.auth.me()).id, user.id);
    await second.auth.logout();
    assert.equal(storage.getItem('app.token'), null);
  });

  test('health', async () => {
    const cloudbox = new CloudBox({ endpoint: server.endpoint });
    const health = await cloudbox.health();
    assert.equal(health.status, 'ok');
    assert.equal(typeof health.version, 'string');
  });
});

describe('projects, members, API keys, CORS, audit log', () => {
  let owner;
  let project;

  before(async () => {
    owner = await registerUser(server.endpoint, { name: 'Owner' });
  });

  test('projects: create, get, list, update (settings kept as written), delete', async () => {
    const cloudbox = owner.client;
    project = await cloudbox.projects.create({ name: 'Alpha', description: 'first' });
    assert.equal(project.name, 'Alpha');
    assert.equal(project.role, 'owner');
    assert.equal(project.createdBy, owner.user.id);
    const other = await cloudbox.projects.create({ name: 'Beta' });

    assert.equal((await cloudbox.projects.get(project.id)).description, 'first');
    assert.equal((await cloudbox.project(project.id).projects.get()).id, project.id);
    const list = await cloudbox.projects.list();
    assert.deepEqual(list.map((p) => p.name).sort(), ['Alpha', 'Beta']);
    assert.equal(list.total, 2);
    const page = await cloudbox.projects.list({ limit: 1, orderBy: '-createdAt' });
    assert.deepEqual(page.map((p) => p.name), ['Beta']);
    assert.equal(page.total, 2);

    const settings = { themeColor: 'teal', snake_key: { innerCamel: [1, { deep_key: true }] } };
    const updated = await cloudbox.projects.update(project.id, { description: 'changed', settings });
    assert.equal(updated.description, 'changed');
    assert.deepEqual(updated.settings, settings);
    assert.deepEqual((await cloudbox.projects.get(project.id)).settings, settings);

    assert.equal(await cloudbox.projects.delete(other.id), undefined);
    await rejectsWithCode(cloudbox.projects.get(other.id), 'PROJECT_NOT_FOUND', 404);
    await rejectsWithCode(cloudbox.projects.delete(other.id), 'PROJECT_NOT_FOUND', 404);
    await rejectsWithCode(cloudbox.projects.create({}), 'VALIDATION_ERROR', 422);
  });

  test('members: add, list, update, remove; roles are enforced', async () => {
    const p = owner.client.project(project.id);
    const member = await registerUser(server.endpoint, { name: 'Member' });
    const added = await p.members.add({ email: member.email, role: 'viewer' });
    assert.equal(added.userId, member.user.id);
    assert.equal(added.role, 'viewer');
    const list = await p.members.list();
    assert.deepEqual(list.map((m) => m.role).sort(), ['owner', 'viewer']);
    assert.equal(list.total, 2);

    const asViewer = member.client.project(project.id);
    assert.equal((await asViewer.projects.get()).role, 'viewer');
    await rejectsWithCode(asViewer.projects.update(project.id, { name: 'Nope' }), 'INSUFFICIENT_PERMISSIONS', 403);
    await rejectsWithCode(asViewer.members.add({ email: owner.email, role: 'viewer' }), 'INSUFFICIENT_PERMISSIONS', 403);

    const promoted = await p.members.update(member.user.id, { role: 'admin' });
    assert.equal(promoted.role, 'admin');
    assert.equal((await asViewer.projects.update(project.id, { name: 'Alpha 2' })).name, 'Alpha 2');

    await rejectsWithCode(p.members.add({ email: member.email, role: 'viewer' }), 'ALREADY_MEMBER', 409);
    await rejectsWithCode(p.members.add({ email: uniqueEmail('nobody'), role: 'viewer' }), 'USER_NOT_FOUND', 404);
    await rejectsWithCode(p.members.update(owner.user.id, { role: 'viewer' }), 'LAST_OWNER', 409);
    assert.equal(await p.members.remove(member.user.id), undefined);
    await rejectsWithCode(p.members.remove(member.user.id), 'MEMBER_NOT_FOUND', 404);
    await rejectsWithCode(asViewer.projects.get(), 'PROJECT_NOT_FOUND', 404);
  });

  test('API keys: create (key shown once), list, use, delete', async () => {
    const p = owner.client.project(project.id);
    const created = await p.apiKeys.create({ name: 'ci', scopes: ['read', 'backups'] });
    assert.match(created.key, /^cbk_/);
    assert.deepEqual(created.scopes.sort(), ['backups', 'read']);
    assert.equal(created.isActive, true);
    assert.equal(created.projectId, project.id);
    const list = await p.apiKeys.list();
    assert.equal(list.length, 1);
    assert.equal(list[0].id, created.id);
    assert.equal(list[0].key, undefined);
    assert.ok(created.key.startsWith(list[0].keyPrefix));

    const withKey = new CloudBox({ endpoint: server.endpoint, projectId: project.id, apiKey: created.key });
    assert.equal((await withKey.projects.get()).id, project.id);
    await rejectsWithCode(withKey.apiKeys.list(), 'INSUFFICIENT_PERMISSIONS', 403);

    const expiring = await p.apiKeys.create({
      name: 'expiring',
      scopes: ['read'],
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    assert.ok(expiring.expiresAt);

    assert.equal(await p.apiKeys.delete(created.id), undefined);
    await rejectsWithCode(withKey.projects.get(), 'INVALID_TOKEN', 401);
    await rejectsWithCode(p.apiKeys.delete(created.id), 'API_KEY_NOT_FOUND', 404);
    await rejectsWithCode(p.apiKeys.create({ name: 'bad', scopes: ['root'] }), 'VALIDATION_ERROR', 422);
  });

  test('CORS: get and update', async () => {
    const p = owner.client.project(project.id);
    const initial = await p.cors.get();
    assert.ok(Array.isArray(initial.allowedOrigins));
    const updated = await p.cors.update({
      allowedOrigins: ['https://app.example.com'],
      allowedMethods: ['GET', 'POST'],
      allowedHeaders: ['Content-Type', 'X-API-Key'],
      exposedHeaders: ['X-Total-Count'],
      allowCredentials: false,
      maxAge: 600,
    });
    assert.deepEqual(updated.allowedOrigins, ['https://app.example.com']);
    assert.equal(updated.maxAge, 600);
    assert.deepEqual((await p.cors.get()).exposedHeaders, ['X-Total-Count']);
  });

  test('audit log: list with filters', async () => {
    const p = owner.client.project(project.id);
    // Entries are written after the response: give the last one a moment.
    await new Promise((r) => setTimeout(r, 200));
    const all = await p.auditLogs.list({ limit: 200 });
    assert.ok(all.length > 0);
    assert.ok(all.total >= all.length);
    const entry = all[0];
    for (const key of ['action', 'resource', 'actorType', 'success', 'createdAt']) assert.ok(key in entry, key);
    const deletes = await p.auditLogs.list({ action: 'api_keys.delete' });
    assert.ok(deletes.length >= 1);
    assert.ok(deletes.every((e) => e.action === 'api_keys.delete'));
    const failed = await p.auditLogs.list({ success: false, since: new Date(Date.now() - 3_600_000) });
    assert.ok(failed.every((e) => e.success === false));
    assert.ok(failed.some((e) => e.errorCode));
  });
});
