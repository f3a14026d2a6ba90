// The JavaScript examples of the spec (shared/spec/backup-and-restore.md) run exactly
// as written against a live server, with `cloudbox` built as the spec builds it and
// `console` captured.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CloudBox } from '../src/index.js';
import { captureConsole, fillProject, registerUser, startServer } from './helpers.js';

// The examples, verbatim from the spec (checked against the spec file below when it is present).
const EXAMPLES = {
  create: `// Create a backup
const backup = await cloudbox.backups.create({
  name: 'Pre-deployment backup',
  description: 'Backup before major update',
  type: 'manual'
});

console.log('Backup created:', backup.id);
console.log('Status:', backup.status); // "creating"`,
  list: `// List backups
const backups = await cloudbox.backups.list();
console.log(\`Found \${backups.length} backups\`);

backups.forEach(backup => {
  console.log(\`\${backup.name} - \${backup.status} (\${backup.size} bytes)\`);
});`,
  monitor: `// Get backup status
const backup = await cloudbox.backups.get(backupId);

switch (backup.status) {
  case 'creating':
    console.log('Backup is being created...');
    break;
  case 'completed':
    console.log(\`Backup completed: \${backup.size} bytes\`);
    console.log(\`Checksum: \${backup.checksum}\`);
    break;
  case 'failed':
    console.error('Backup failed!');
    break;
}`,
  restore: `// Restore backup to same project
await cloudbox.backups.restore(backupId);

// Restore backup to different project
await cloudbox.backups.restore(backupId, {
  targetProjectId: 2
});`,
};

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;

/** Run one example as written, in an async function with `cloudbox`, `console` and `backupId` in scope. */
async function runExample(code, cloudbox, backupId) {
  const captured = captureConsole();
  await new AsyncFunction('cloudbox', 'console', 'backupId', code)(cloudbox, captured.console, backupId);
  return captured.lines;
}

const here = dirname(fileURLToPath(import.meta.url));
const SPEC_PATH = process.env.CLOUDBOX_SPEC || resolve(here, '../../../../shared/spec/backup-and-restore.md');

let server;
let owner;
let apiKey;

before(async () => {
  server = await startServer();
  owner = await registerUser(server.endpoint, { name: 'Spec Owner' });
  const project1 = await owner.client.projects.create({ name: 'My Project' });
  const project2 = await owner.client.projects.create({ name: 'Restore Target' });
  assert.equal(project1.id, 1);
  assert.equal(project2.id, 2);
  const p1 = owner.client.project(1);
  // ~12 MB of incompressible files: the backup runs long enough to be seen `creating`.
  await fillProject(p1, { documents: 40, files: 3, fileBytes: 4 * 1024 * 1024 });
  const key = await p1.apiKeys.create({ name: 'spec', scopes: ['admin', 'backups'] });
  apiKey = key.key;
});

after(async () => {
  await server?.stop();
});

test('the embedded examples are the spec examples, verbatim', (t) => {
  if (!existsSync(SPEC_PATH)) {
    t.skip(`spec not found at ${SPEC_PATH} (set CLOUDBOX_SPEC)`);
    return;
  }
  const spec = readFileSync(SPEC_PATH, 'utf8');
  const blocks = [...spec.matchAll(/```javascript\n([\s\S]*?)```/g)].map((m) => m[1].trimEnd());
  assert.deepEqual(blocks, [EXAMPLES.create, EXAMPLES.list, EXAMPLES.monitor, EXAMPLES.restore]);
});

test('spec examples: create, monitor (creating then completed), list, restore to same and to project 2', async () => {
  const endpoint = server.endpoint;
  const projectId = 1;
  // As the spec constructs it.
  const cloudbox = new CloudBox({ endpoint, projectId, apiKey });

  // Creating Backups
  const created = await runExample(EXAMPLES.create, cloudbox);
  assert.equal(created.length, 2);
  const match = /^Backup created: (\d+)$/.exec(created[0].text);
  assert.ok(match, created[0].text);
  const backupId = Number(match[1]);
  assert.deepEqual(created[1], { level: 'log', text: 'Status: creating' });

  // Monitoring Backup Progress: poll the example until it reports completion.
  const outputs = [];
  const deadline = Date.now() + 60_000;
  for (;;) {
    const lines = await runExample(EXAMPLES.monitor, cloudbox, backupId);
    outputs.push(lines);
    if (lines.some((l) => l.text.startsWith('Backup completed') || l.text === 'Backup failed!')) break;
    assert.ok(Date.now() < deadline, 'the backup did not finish within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const first = outputs[0];
  assert.deepEqual(first, [{ level: 'log', text: 'Backup is being created...' }], 'first poll sees `creating`');
  for (const lines of outputs.slice(0, -1)) {
    assert.deepEqual(lines, [{ level: 'log', text: 'Backup is being created...' }]);
  }
  const last = outputs.at(-1);
  assert.equal(last.length, 2, JSON.stringify(last));
  const size = Number(/^Backup completed: (\d+) bytes$/.exec(last[0].text)?.[1]);
  assert.ok(size > 12 * 1024 * 1024, `backup size ${last[0].text}`);
  assert.match(last[1].text, /^Checksum: sha256:[0-9a-f]{64}$/);
  assert.equal(last[0].level, 'log');

  // Listing Backups
  const listed = await runExample(EXAMPLES.list, cloudbox);
  assert.deepEqual(listed, [
    { level: 'log', text: 'Found 1 backups' },
    { level: 'log', text: `Pre-deployment backup - completed (${size} bytes)` },
  ]);

  // Restoring from Backup. A project API key acts on its own project only, so the
  // cross-project restore runs as the owner (admin of both projects).
  await cloudbox.documents('items').delete('item-0');
  await cloudbox.documents('items').create({ added: 'after the backup' }, { id: 'extra' });
  const asOwner = new CloudBox({ endpoint, projectId, token: owner.token });
  const restored = await runExample(EXAMPLES.restore, asOwner, backupId);
  assert.deepEqual(restored, []);

  for (const target of [1, 2]) {
    const p = asOwner.project(target);
    const docs = await p.documents('items').list({ limit: 1000 });
    assert.equal(docs.length, 40, `project ${target} documents`);
    assert.equal(docs.total, 40);
    assert.deepEqual((await p.documents('items').get('item-0')).data, {
      n: 0,
      title: 'Item 0',
      nested_key: { innerKey: 0 },
    });
    const files = await p.bucket('assets').files.list();
    assert.equal(files.length, 3, `project ${target} files`);
    assert.ok(files.every((f) => f.size === 4 * 1024 * 1024));
  }
  await assert.rejects(asOwner.documents('items').get('extra'), { code: 'DOCUMENT_NOT_FOUND' });

  const restores = await asOwner.restores.list();
  assert.equal(restores.length, 1);
  assert.equal(restores[0].status, 'completed');
  assert.equal((await asOwner.project(2).restores.list())[0].sourceProjectId, 1);
});
