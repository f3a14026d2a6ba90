// Type-checked (not run) by test/types.test.js (`npm run typecheck`): the shipped index.d.ts describes the
// API as the README and the spec use it.
import CloudBoxDefault, { CloudBox, CloudBoxError } from '@cloudbox/sdk';
import type {
  Backup,
  BackupEvent,
  BackupPolicy,
  BackupUsage,
  CloudBoxDocument,
  PolicyRun,
  Progress,
  Restore,
  RestoreResult,
  RetentionPreview,
  ServerBackupUsage,
  StoredFile,
} from '@cloudbox/sdk';

declare const endpoint: string;
declare const projectId: number;
declare const apiKey: string;
declare const backupId: number;

const same: typeof CloudBox = CloudBoxDefault;
const cloudbox = new CloudBox({ endpoint, projectId, apiKey });
new same({ endpoint: 'http://localhost:8080/api', token: 'cbt_x', storage: localStorage });

async function specExamples(): Promise<void> {
  // Create a backup
  const backup = await cloudbox.backups.create({
    name: 'Pre-deployment backup',
    description: 'Backup before major update',
    type: 'manual'
  });
  console.log('Backup created:', backup.id);
  console.log('Status:', backup.status); // "creating"

  // List backups
  const backups = await cloudbox.backups.list();
  console.log(`Found ${backups.length} backups`);
  backups.forEach(backup => {
    console.log(`${backup.name} - ${backup.status} (${backup.size} bytes)`);
  });

  const current = await cloudbox.backups.get(backupId);
  switch (current.status) {
    case 'creating':
      console.log('Backup is being created...');
      break;
    case 'completed':
      console.log(`Backup completed: ${current.size} bytes`);
      console.log(`Checksum: ${current.checksum}`);
      break;
    case 'failed':
      console.error('Backup failed!');
      break;
  }

  // Restore backup to same project
  await cloudbox.backups.restore(backupId);
  // Restore backup to different project
  await cloudbox.backups.restore(backupId, {
    targetProjectId: 2
  });
}

async function everythingElse(): Promise<void> {
  const total: number | undefined = (await cloudbox.backups.list({ limit: 10, offset: 0 })).total;
  const done: Backup = await cloudbox.backups.waitForCompletion(1, {
    intervalMs: 250,
    timeoutMs: 60_000,
    onProgress: (progress: Progress, b: Backup) => console.log(progress.percent, progress.itemsDone, b.status),
  });
  const result: RestoreResult = await cloudbox.backups.restore(done.id, { dryRun: true, sections: ['documents', 'storage_buckets'] });
  const pending: Restore = await cloudbox.backups.restore(done.id, { targetProjectId: 2, wait: false });
  await cloudbox.restores.waitForCompletion(pending.id);
  await cloudbox.restores.undo(result.restore.id);
  const stream: ReadableStream<Uint8Array> = await cloudbox.backups.download(done.id);
  const buffer: ArrayBuffer = await cloudbox.backups.downloadArrayBuffer(done.id, { start: 0, end: 99 });
  await cloudbox.backups.import(new Blob([buffer]), { name: 'copy', sha256: done.checksum ?? undefined });
  await cloudbox.backups.import(stream);
  const report = await cloudbox.backups.verify(done.id);
  if (!report.ok) console.log(report.problems.map((p) => p.code));
  await cloudbox.backups.cancel(done.id);
  await cloudbox.backups.delete(done.id);
  for await (const event of cloudbox.backups.events(done.id)) {
    const e: BackupEvent = event;
    console.log(e.event, e.data);
  }
  await cloudbox.restores.get(1);
  await cloudbox.restores.list();

  try {
    await cloudbox.backups.get(999);
  } catch (error) {
    if (error instanceof CloudBoxError && error.code === 'BACKUP_NOT_FOUND') console.log(error.status, error.details);
  }

  await cloudbox.auth.login({ email: 'a@b.c', password: 'p' });
  const me = await cloudbox.auth.me();
  await cloudbox.auth.logout();
  const project = await cloudbox.projects.create({ name: 'P' });
  await cloudbox.projects.update(project.id, { settings: { any_key: 1 } });
  const scoped = cloudbox.project(project.id);
  await scoped.members.add({ email: me.email, role: 'developer' });
  const key = await scoped.apiKeys.create({ name: 'ci', scopes: ['read', 'backups'] });
  console.log(key.key);

  type Todo = { title: string; done: boolean };
  await scoped.collections.create({ name: 'todos', schema: { type: 'object' } });
  const todos = scoped.collection<Todo>('todos').documents;
  const doc: CloudBoxDocument<Todo> = await todos.create({ title: 'x', done: false }, { id: 'a' });
  const open = await scoped.documents<Todo>('todos').list({ filter: { done: false }, orderBy: '-createdAt', limit: 5 });
  console.log(doc.data.title, open.map((d) => d.data.done));
  await todos.update('a', { done: true }, { version: doc.version });
  await todos.delete('a');

  await scoped.buckets.create({ name: 'photos', isPublic: false, allowedTypes: ['image/png'] });
  const file: StoredFile = await scoped.storage.from('photos').upload(new File(['x'], 'x.png'), { folderPath: 'a' });
  await scoped.bucket('photos').files.downloadBlob(file.id);
  await scoped.bucket('photos').delete({ force: true });

  const session = await scoped.appAuth.register({ email: 'u@x.io', password: 'long-password' });
  console.log(session.user.profile, scoped.appAuth.getToken());
  await scoped.appAuth.login({ email: 'u@x.io', password: 'long-password' });
  await scoped.appAuth.me();
  await scoped.appAuth.logout();
  await scoped.users.create({ email: 'v@x.io', password: 'long-password', profile: { plan: 'pro' } });
  await scoped.authSettings.update({ allowSignup: false });
  await scoped.cors.update({ allowedOrigins: ['https://x.io'] });
  await scoped.auditLogs.list({ since: new Date(), success: false });
  console.log(total, stream, me.isPlatformAdmin);
}

async function automaticBackups(): Promise<void> {
  const policy: BackupPolicy = await cloudbox.backups.policies.create({
    name: 'nightly',
    schedule: '30 2 * * *',
    timezone: 'Europe/Berlin',
    retention: { keepLast: 7, keepDaily: 14 },
    verifyAfterBackup: true,
    restoreDrill: false,
    webhookUrl: 'https://hooks.example.com/cloudbox',
    webhookSecret: 'a-long-random-shared-secret',
    staleAfterHours: 36,
  });
  const listed = await cloudbox.backups.policies.list({ orderBy: '-nextRunAt', limit: 5, projectId: 2 });
  console.log(listed.total, listed.map((p) => p.webhook?.origin ?? null));
  await cloudbox.backups.policies.get(policy.id);
  const updated = await cloudbox.backups.policies.update(policy, {
    enabled: false,
    retention: { keepDaily: null },
    webhookUrl: null,
    staleAfterHours: null,
  });
  const next: string | null = updated.nextRunAt;
  const runs: PolicyRun[] = await cloudbox.backups.policies.runs(policy.id, { limit: 10 });
  console.log(next, runs.map((r) => [r.status, r.reason, r.backupId]));
  const preview: RetentionPreview = await cloudbox.backups.policies.retentionDryRun(policy.id, { keepLast: 3 });
  console.log(preview.deleteBytes, preview.delete.map((item) => item.reasons.join(', ')));
  await cloudbox.backups.policies.delete(policy.id);
  const usage: BackupUsage = await cloudbox.backups.usage();
  console.log(usage.totalBytes, usage.byType.automatic?.count, usage.quotaBytes);
  const all: ServerBackupUsage = await cloudbox.backups.serverUsage({ limit: 10 });
  console.log(all.storageFreeBytes, all.projectsTotal, all.projects.map((p) => p.projectName));
  const backup = await cloudbox.backups.get(1);
  if (backup.drill && !backup.drill.ok) console.log(backup.drill.checkedAt, backup.drill.problems);
}

void specExamples;
void automaticBackups;
void everythingElse;
