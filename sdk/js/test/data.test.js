// Data APIs against a live server: collections and documents, buckets and files,
// app users (admin CRUD, auth settings) and app-user sign-up / sign-in.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { CloudBox, CloudBoxError } from '../src/index.js';
import { PASSWORD, randomBytes, readAll, registerUser, rejectsWithCode, startServer, uniqueEmail } from './helpers.js';

let server;
let owner;
let cloudbox; // the owner's client, scoped to the project
let viewer;

before(async () => {
  server = await startServer();
  owner = await registerUser(server.endpoint, { name: 'Owner' });
  const project = await owner.client.projects.create({ name: 'Data' });
  cloudbox = owner.client.project(project.id);
  const view = await registerUser(server.endpoint, { name: 'Viewer' });
  await cloudbox.members.add({ email: view.email, role: 'viewer' });
  viewer = view.client.project(project.id);
});

after(async () => {
  await server?.stop();
});

describe('collections and documents', () => {
  test('collections: create (schema kept as written), get, list, update, delete', async () => {
    const schema = {
      type: 'object',
      properties: { title: { type: 'string' }, dueDate: { type: 'string' }, done_flag: { type: 'boolean' } },
      required: ['title'],
    };
    const created = await cloudbox.collections.create({ name: 'todos', description: 'Things', schema, indexes: ['title'] });
    assert.equal(created.name, 'todos');
    assert.deepEqual(created.schema, schema);
    assert.deepEqual(created.indexes, ['title']);
    await cloudbox.collections.create({ name: 'scratch' });

    const got = await cloudbox.collections.get('todos');
    assert.deepEqual(got.schema, schema);
    assert.equal(got.description, 'Things');
    assert.deepEqual((await cloudbox.collection('todos').get()).schema, schema);
    const list = await cloudbox.collections.list();
    assert.deepEqual(list.map((c) => c.name).sort(), ['scratch', 'todos']);
    assert.equal(list.total, 2);
    assert.deepEqual((await cloudbox.collections.list({ orderBy: 'name', limit: 1 })).map((c) => c.name), ['scratch']);

    const updated = await cloudbox.collections.update('scratch', { description: 'temporary' });
    assert.equal(updated.description, 'temporary');
    assert.equal((await cloudbox.collection('scratch').update({ description: 'again' })).description, 'again');
    await cloudbox.collection('scratch').delete();
    await rejectsWithCode(cloudbox.collections.get('scratch'), 'COLLECTION_NOT_FOUND', 404);
    await cloudbox.collections.create({ name: 'scratch2' });
    assert.equal(await cloudbox.collections.delete('scratch2'), undefined);
    await rejectsWithCode(cloudbox.collections.create({ name: 'todos' }), 'COLLECTION_EXISTS', 409);
    await rejectsWithCode(viewer.collections.create({ name: 'nope' }), 'INSUFFICIENT_PERMISSIONS', 403);
  });

  test('documents: create, get, list with filter/limit/offset/orderBy, update (merge patch), delete', async () => {
    const todos = cloudbox.collection('todos').documents;
    assert.equal(todos.collection, 'todos');
    const data = { title: 'Write SDK', dueDate: '2025-01-01', done_flag: false, meta: { createdBy_user: 'x', nestedKey: [1, { a_b: 2 }] } };
    const first = await todos.create(data, { id: 'sdk' });
    assert.equal(first.id, 'sdk');
    assert.equal(first.collection, 'todos');
    assert.equal(first.version, 1);
    assert.deepEqual(first.data, data); // user keys are never renamed
    for (let i = 0; i < 5; i++) await cloudbox.documents('todos').create({ title: `Task ${i}`, done_flag: i % 2 === 0 });

    const got = await todos.get('sdk');
    assert.deepEqual(got.data, data);
    assert.ok(got.createdAt && got.updatedAt);

    const all = await todos.list();
    assert.equal(all.length, 6);
    assert.equal(all.total, 6);
    const done = await todos.list({ filter: { done_flag: true } });
    assert.deepEqual(done.map((d) => d.data.title).sort(), ['Task 0', 'Task 2', 'Task 4']);
    assert.equal(done.total, 3);
    const page = await todos.list({ limit: 2, offset: 1, orderBy: 'createdAt' });
    assert.deepEqual(page.map((d) => d.data.title), ['Task 0', 'Task 1']);
    assert.equal(page.total, 6);
    const newest = await todos.list({ limit: 1, orderBy: '-createdAt' });
    assert.equal(newest[0].data.title, 'Task 4');

    const patched = await todos.update('sdk', { done_flag: true, dueDate: null, meta: { extra_key: 1 } });
    assert.equal(patched.version, 2);
    assert.deepEqual(patched.data, {
      title: 'Write SDK',
      done_flag: true,
      meta: { createdBy_user: 'x', nestedKey: [1, { a_b: 2 }], extra_key: 1 },
    });
    await rejectsWithCode(todos.update('sdk', { title: 'stale' }, { version: 1 }), 'VERSION_CONFLICT', 412);
    assert.equal((await todos.update('sdk', { title: 'fresh' }, { version: 2 })).data.title, 'fresh');
    await rejectsWithCode(todos.delete('sdk', { version: 2 }), 'VERSION_CONFLICT', 412);
    assert.equal(await todos.delete('sdk', { version: 3 }), undefined);
    await rejectsWithCode(todos.get('sdk'), 'DOCUMENT_NOT_FOUND', 404);
    await rejectsWithCode(todos.delete('sdk'), 'DOCUMENT_NOT_FOUND', 404);
    await rejectsWithCode(todos.create({ title: 42 }), 'SCHEMA_VALIDATION_FAILED');
    await rejectsWithCode(todos.create({ title: 'dup' }, { id: 'Task' }).then(() => todos.create({ title: 'dup' }, { id: 'Task' })), 'DOCUMENT_EXISTS', 409);
    await rejectsWithCode(cloudbox.documents('missing').list(), 'COLLECTION_NOT_FOUND', 404);
    await rejectsWithCode(viewer.documents('todos').create({ title: 'x' }), 'INSUFFICIENT_PERMISSIONS', 403);
    assert.equal((await viewer.documents('todos').list({ limit: 1 })).total, 6);
  });
});

describe('buckets and files', () => {
  test('buckets: create, get, list, update, delete (force)', async () => {
    const bucket = await cloudbox.buckets.create({
      name: 'photos',
      description: 'Pictures',
      isPublic: false,
      maxFileSize: 1024 * 1024,
      allowedTypes: ['image/png', 'text/plain', 'application/octet-stream'],
    });
    assert.equal(bucket.name, 'photos');
    assert.equal(bucket.maxFileSize, 1024 * 1024);
    assert.deepEqual(bucket.allowedTypes, ['image/png', 'text/plain', 'application/octet-stream']);
    assert.equal(bucket.isPublic, false);
    await cloudbox.storage.buckets.create({ name: 'tmp' });
    assert.equal((await cloudbox.buckets.get('photos')).description, 'Pictures');
    assert.equal((await cloudbox.bucket('photos').get()).name, 'photos');
    const list = await cloudbox.buckets.list();
    assert.deepEqual(list.map((b) => b.name).sort(), ['photos', 'tmp']);
    assert.equal(list.total, 2);
    assert.equal((await cloudbox.buckets.update('tmp', { description: 'temporary' })).description, 'temporary');
    assert.equal((await cloudbox.bucket('tmp').update({ isPublic: true })).isPublic, true);
    await cloudbox.bucket('tmp').files.upload('x', { name: 'x.txt', contentType: 'text/plain' });
    await rejectsWithCode(cloudbox.buckets.delete('tmp'), 'BUCKET_NOT_EMPTY', 409);
    assert.equal(await cloudbox.bucket('tmp').delete({ force: true }), undefined);
    await rejectsWithCode(cloudbox.buckets.get('tmp'), 'BUCKET_NOT_FOUND', 404);
    await rejectsWithCode(cloudbox.buckets.create({ name: 'photos' }), 'BUCKET_EXISTS', 409);
  });

  test('files: upload (FormData), list, get, update, download as stream / ArrayBuffer / Blob / range, delete', async () => {
    const files = cloudbox.storage.from('photos');
    const bytes = randomBytes(200_000);
    const uploaded = await files.upload(new Blob([bytes], { type: 'application/octet-stream' }), {
      name: 'random.bin',
      folderPath: 'raw/2024',
    });
    assert.equal(uploaded.name, 'random.bin');
    assert.equal(uploaded.folderPath, 'raw/2024');
    assert.equal(uploaded.size, bytes.length);
    assert.match(uploaded.checksum, /^sha256:/);
    const file = new File(['hello, cloudbox'], 'hello.txt', { type: 'text/plain' });
    const hello = await cloudbox.bucket('photos').files.upload(file);
    assert.equal(hello.name, 'hello.txt');
    assert.equal(hello.mimeType, 'text/plain');
    const fromBuffer = await files.upload(new TextEncoder().encode('buffer').buffer, { name: 'b.txt', contentType: 'text/plain' });
    assert.equal(fromBuffer.size, 6);

    const list = await files.list();
    assert.equal(list.length, 3);
    assert.equal(list.total, 3);
    assert.deepEqual((await cloudbox.storage.bucket('photos').files.list()).map((f) => f.id).sort(), list.map((f) => f.id).sort());
    const inFolder = await files.list({ folderPath: 'raw/2024' });
    assert.deepEqual(inFolder.map((f) => f.name), ['random.bin']);
    assert.deepEqual((await files.list({ orderBy: '-size', limit: 1 })).map((f) => f.name), ['random.bin']);
    assert.equal((await files.get(uploaded.id)).size, bytes.length);

    const stream = await files.download(uploaded.id);
    assert.ok(stream instanceof ReadableStream);
    assert.deepEqual(await readAll(stream), bytes);
    assert.deepEqual(new Uint8Array(await files.downloadArrayBuffer(uploaded.id)), bytes);
    const blob = await files.downloadBlob(hello.id);
    assert.equal(await blob.text(), 'hello, cloudbox');
    assert.match(blob.type, /^text\/plain/);
    assert.deepEqual(await readAll(await files.download(uploaded.id, { start: 100, end: 199 })), bytes.slice(100, 200));
    await rejectsWithCode(files.download(uploaded.id, { start: 10_000_000 }), 'RANGE_NOT_SATISFIABLE', 416);

    const moved = await files.update(hello.id, { name: 'greeting.txt', folderPath: 'docs' });
    assert.equal(moved.name, 'greeting.txt');
    assert.equal(moved.folderPath, 'docs');

    assert.equal(await files.delete(fromBuffer.id), undefined);
    await rejectsWithCode(files.get(fromBuffer.id), 'FILE_NOT_FOUND', 404);
    await rejectsWithCode(files.upload(randomBytes(2 * 1024 * 1024), { name: 'big.bin' }), 'FILE_TOO_LARGE', 413);
    await rejectsWithCode(files.upload('<svg/>', { name: 'x.svg', contentType: 'image/svg+xml' }), 'FILE_TYPE_NOT_ALLOWED', 415);
    await rejectsWithCode(viewer.bucket('photos').files.upload('x', { name: 'x.txt', contentType: 'text/plain' }), 'INSUFFICIENT_PERMISSIONS', 403);
    assert.equal(await (await viewer.bucket('photos').files.downloadBlob(uploaded.id)).size, bytes.length);
  });
});

describe('app users', () => {
  test('auth settings: get and update', async () => {
    const settings = await cloudbox.authSettings.get();
    assert.equal(typeof settings.allowSignup, 'boolean');
    const updated = await cloudbox.authSettings.update({ ...settings, allowSignup: true, passwordMinLength: 10 });
    assert.equal(updated.passwordMinLength, 10);
    assert.equal((await cloudbox.authSettings.get()).passwordMinLength, 10);
    await rejectsWithCode(viewer.authSettings.update({ allowSignup: false }), 'INSUFFICIENT_PERMISSIONS', 403);
  });

  test('appAuth: register, login, me, logout (app token kept on the client)', async () => {
    const app = new CloudBox({ endpoint: server.endpoint, projectId: cloudbox.projectId });
    const email = uniqueEmail('app');
    const registered = await app.appAuth.register({ email, password: PASSWORD, name: 'App User', username: 'app_user' });
    assert.equal(registered.user.email, email);
    assert.equal(registered.user.username, 'app_user');
    assert.match(registered.token, /^cbu_/);
    assert.equal(app.appAuth.getToken(), registered.token);
    assert.equal((await app.appAuth.me()).email, email);

    await app.appAuth.logout();
    assert.equal(app.appAuth.getToken(), null);
    await rejectsWithCode(app.appAuth.me(), 'UNAUTHORIZED', 401);
    app.appAuth.setToken(registered.token);
    await rejectsWithCode(app.appAuth.me(), 'INVALID_TOKEN', 401);

    const login = await app.appAuth.login({ email, password: PASSWORD });
    assert.equal(login.user.id, registered.user.id);
    assert.ok(login.user.lastLoginAt);
    assert.equal((await app.appAuth.me()).id, registered.user.id);
    await rejectsWithCode(app.appAuth.login({ email, password: 'wrong-password' }), 'INVALID_CREDENTIALS', 401);
    await rejectsWithCode(app.appAuth.register({ email, password: PASSWORD }), 'APP_USER_EXISTS', 409);
    await rejectsWithCode(app.appAuth.register({ email: uniqueEmail('short'), password: 'short' }), 'VALIDATION_ERROR', 422);
    // An app token is not a platform credential.
    const asAppUser = new CloudBox({ endpoint: server.endpoint, projectId: cloudbox.projectId, token: login.token });
    await rejectsWithCode(asAppUser.collections.list(), 'INVALID_TOKEN', 401);

    await cloudbox.authSettings.update({ allowSignup: false });
    await rejectsWithCode(app.appAuth.register({ email: uniqueEmail('closed'), password: PASSWORD }), 'SIGNUP_DISABLED', 403);
    await cloudbox.authSettings.update({ allowSignup: true });
  });

  test('users (admin): create (profile kept as written), get, list, update, delete', async () => {
    const profile = { avatarUrl: 'https://x/y.png', favorite_color: 'blue', prefs: { darkMode: true } };
    const user = await cloudbox.users.create({
      email: uniqueEmail('managed'),
      password: PASSWORD,
      name: 'Managed',
      isEmailVerified: true,
      profile,
    });
    assert.equal(user.isEmailVerified, true);
    assert.equal(user.isActive, true);
    assert.deepEqual(user.profile, profile);
    assert.deepEqual((await cloudbox.users.get(user.id)).profile, profile);
    const list = await cloudbox.users.list();
    assert.ok(list.some((u) => u.id === user.id));
    assert.equal(list.total, list.length);
    const updated = await cloudbox.users.update(user.id, { isActive: false, profile: { plan_tier: 'pro' } });
    assert.equal(updated.isActive, false);
    assert.deepEqual(updated.profile, { plan_tier: 'pro' });
    assert.equal(await cloudbox.users.delete(user.id), undefined);
    await rejectsWithCode(cloudbox.users.get(user.id), 'APP_USER_NOT_FOUND', 404);
    await rejectsWithCode(viewer.users.list(), 'INSUFFICIENT_PERMISSIONS', 403);
    await assert.rejects(viewer.users.get(user.id), CloudBoxError);
  });
});
