// Type definitions for @cloudbox/sdk (hand-written; the library is plain ES modules).

export type Id = number | string;

/** An array answer; `total` is the server's `X-Total-Count` when it sent one. */
export type ListResult<T> = T[] & { readonly total?: number };

export interface ListOptions {
  limit?: number;
  offset?: number;
  /** A field name, `-field` for descending (camelCase or snake_case). */
  orderBy?: string;
  signal?: AbortSignal;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

/** Byte range of a download: `start` and `end` are inclusive, like HTTP ranges. */
export interface RangeOptions extends RequestOptions {
  start?: number;
  end?: number;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface CloudBoxOptions {
  /** e.g. `http://localhost:8080` (a trailing `/api` is accepted). Defaults to `location.origin` in a browser. */
  endpoint?: string;
  /** The project the project-scoped APIs act on. */
  projectId?: Id | null;
  /** A project API key (`cbk_...`), sent as `X-API-Key`. */
  apiKey?: string | null;
  /** A platform user's token (`cbt_...`), sent as `Authorization: Bearer`. */
  token?: string | null;
  /** An app user's token (`cbu_...`), used by `appAuth.me()`/`logout()`. */
  appToken?: string | null;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /** A fetch implementation (default: `globalThis.fetch`). */
  fetch?: typeof fetch;
  /** Where tokens are kept across page loads, e.g. `localStorage`. */
  storage?: StorageLike | null;
  /** Prefix of the storage keys (default `cloudbox`). */
  storageKey?: string;
}

export interface CloudBoxErrorOptions {
  status?: number;
  code?: string;
  details?: Record<string, any>;
  cause?: unknown;
  headers?: Headers;
  backup?: Backup;
  restore?: Restore;
}

/**
 * Every failure: the server's error answer (`status`, `code`, `details`), a network
 * failure (`code: 'NETWORK_ERROR'`, `status: 0`), a job that ended `failed` (`code` is
 * its error code, e.g. `BACKUP_CANCELLED`; `backup`/`restore` is the final object), or
 * `TIMEOUT`, `CHECKSUM_MISMATCH`, `PROJECT_REQUIRED`, `INVALID_ARGUMENT`, `INVALID_RESPONSE`.
 */
export class CloudBoxError extends Error {
  constructor(message: string, options?: CloudBoxErrorOptions);
  readonly name: 'CloudBoxError';
  /** HTTP status; 0 when no answer arrived. */
  status: number;
  /** The server's error code (e.g. `BACKUP_NOT_FOUND`, `INSUFFICIENT_PERMISSIONS`) or an SDK code. */
  code: string;
  details: Record<string, any>;
  headers?: Headers;
  backup?: Backup;
  restore?: Restore;
}

// ---------------------------------------------------------------- models

export interface User {
  id: number;
  email: string;
  name: string;
  isPlatformAdmin: boolean;
  createdAt: string;
}

export interface Session {
  user: User;
  token: string;
  expiresAt: string;
}

export type Role = 'owner' | 'admin' | 'developer' | 'viewer';
export type Scope = 'read' | 'write' | 'admin' | 'backups';

export interface Project {
  id: number;
  name: string;
  description: string;
  settings: Record<string, any>;
  role: Role;
  createdBy: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface Member {
  userId: number;
  email: string;
  name: string;
  role: Role;
  createdAt: string;
}

export interface ApiKey {
  id: string;
  projectId: number;
  name: string;
  keyPrefix: string;
  scopes: Scope[];
  isActive: boolean;
  expiresAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
}

export interface CreatedApiKey extends ApiKey {
  /** The key itself, shown only in this answer. */
  key: string;
}

export interface CorsConfig {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposedHeaders: string[];
  allowCredentials: boolean;
  maxAge: number;
}

export interface AuditLogEntry {
  id: string;
  projectId: number;
  action: string;
  resource: string;
  resourceId: string | null;
  actorType: string;
  actorId: string | null;
  actorEmail: string | null;
  ip: string | null;
  userAgent: string | null;
  success: boolean;
  errorCode: string | null;
  details: Record<string, any>;
  imported: boolean;
  createdAt: string;
}

export interface Collection {
  id: string;
  name: string;
  description: string;
  schema: Record<string, any> | null;
  indexes: string[];
  documentCount?: number | null;
  createdAt: string;
  updatedAt: string;
}

export type DocumentData = Record<string, any>;

export interface CloudBoxDocument<T extends DocumentData = DocumentData> {
  id: string;
  collection: string;
  /** The document's data, exactly as stored (keys are never renamed). */
  data: T;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface Bucket {
  id: string;
  name: string;
  description: string;
  isPublic: boolean;
  maxFileSize: number;
  allowedTypes: string[];
  createdAt: string;
  updatedAt: string;
}

export interface StoredFile {
  id: string;
  name: string;
  folderPath: string;
  mimeType: string;
  size: number;
  checksum: string;
  createdAt: string;
  updatedAt: string;
}

export interface AppUser {
  id: string;
  email: string;
  name: string | null;
  username: string | null;
  isActive: boolean;
  isEmailVerified: boolean;
  profile: Record<string, any>;
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
}

export interface AppSession {
  /** `null` when sign-up needs email verification first. */
  token: string | null;
  expiresAt: string | null;
  user: AppUser;
}

export interface AuthSettingsConfig {
  allowSignup: boolean;
  passwordMinLength: number;
  sessionTtlSeconds: number;
  requireEmailVerification: boolean;
  allowedEmailDomains: string[];
}

export type BackupStatus = 'creating' | 'completed' | 'failed';

export interface Progress {
  phase: string;
  percent: number;
  itemsDone: number;
  itemsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface JobError {
  code: string;
  message: string;
}

export interface Actor {
  type: string;
  id?: string | null;
  email?: string | null;
}

export interface Backup {
  id: number;
  name: string;
  description: string;
  type: 'manual' | 'automatic' | string;
  status: BackupStatus;
  /** Bytes of the archive; `null` while creating. */
  size: number | null;
  filePath: string;
  /** `sha256:<hex>`; `null` while creating. */
  checksum: string | null;
  createdAt: string;
  completedAt: string | null;
  projectId: number;
  progress: Progress;
  error: JobError | null;
  backupVersion: string;
  createdBy: Actor;
  origin: 'backup' | 'import' | string;
  /** Rows per archive section, keyed by the server's section names (e.g. `storage_buckets`). */
  sections: Record<string, number>;
  verifiedAt: string | null;
  /** The backup policy that made this (automatic) backup. */
  policyId: string | null;
  /** The restore drill's result, when the policy runs drills; `null` otherwise. */
  drill: BackupDrill | null;
}

/** The backup was restored into a throwaway project and compared with its archive. */
export interface BackupDrill {
  ok: boolean;
  checkedAt: string;
  /** What differed (empty when `ok`). */
  problems: string[];
}

// ---------------------------------------------------------------- backup policies

/** Retention rules; `null` (or left out) = the rule is not used. Counts 1-10000, `maxAgeDays` 1-36500. */
export interface RetentionRule {
  keepLast: number | null;
  keepDaily: number | null;
  keepWeekly: number | null;
  keepMonthly: number | null;
  maxAgeDays: number | null;
}

export interface BackupPolicyInput {
  name: string;
  /** 5-field cron: `minute hour day-of-month month day-of-week`. */
  schedule: string;
  /** IANA time zone the schedule is read in (default `UTC`). */
  timezone?: string;
  enabled?: boolean;
  retention?: Partial<RetentionRule>;
  verifyAfterBackup?: boolean;
  restoreDrill?: boolean;
  /** http(s) URL failure events are posted to (write-only; public addresses unless the server's allow-list names it). */
  webhookUrl?: string | null;
  /** HMAC-SHA256 key of the event signatures, 16-200 characters (write-only). */
  webhookSecret?: string;
  /** Notify when the newest completed backup is older than this (needs a webhook). */
  staleAfterHours?: number | null;
}

/** `null` for `webhookUrl` removes the webhook; `retention` changes only the rules it names. */
export type BackupPolicyChanges = Partial<Omit<BackupPolicyInput, 'retention'>> & {
  retention?: Partial<RetentionRule>;
};

export interface PolicyWebhook {
  /** Scheme, host and port of the URL (the URL itself is never returned). */
  origin: string;
  hasSecret: boolean;
}

export interface BackupPolicy {
  id: string;
  projectId: number;
  name: string;
  schedule: string;
  timezone: string;
  enabled: boolean;
  retention: RetentionRule;
  verifyAfterBackup: boolean;
  restoreDrill: boolean;
  webhook: PolicyWebhook | null;
  staleAfterHours: number | null;
  /** The next slot (UTC); `null` while disabled. */
  nextRunAt: string | null;
  lastRunAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export type PolicyRunStatus = 'started' | 'completed' | 'skipped' | 'failed';

/** One fired slot of a policy. */
export interface PolicyRun {
  id: string;
  policyId: string;
  slotTime: string;
  status: PolicyRunStatus;
  /** e.g. `BACKUP_FAILED`, `STORAGE_FULL`, `VERIFY_FAILED`, `DRILL_FAILED`, `RETENTION_FAILED`, `JOB_IN_PROGRESS`. */
  reason: string | null;
  message: string | null;
  backupId: number | null;
  /** What retention deleted, as the server recorded it (keys are not renamed). */
  details: Record<string, any>;
  createdAt: string;
  finishedAt: string | null;
}

export interface RetentionItem {
  backupId: number;
  name: string;
  createdAt: string;
  size: number | null;
  /** Why it is kept (`keep_last`, `protected: ...`) or deleted. */
  reasons: string[];
}

export interface RetentionPreview {
  policyId: string;
  evaluatedAt: string;
  /** The rule evaluated: the saved one, with the overrides given. */
  retention: RetentionRule;
  keep: RetentionItem[];
  delete: RetentionItem[];
  deleteBytes: number;
}

export interface RetentionOverrides extends RequestOptions {
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  maxAgeDays?: number;
}

export interface TypeUsage {
  count: number;
  totalBytes: number;
}

/** Completed backups (those holding an archive): how many, and their archives' bytes. */
export interface BackupUsage {
  count: number;
  totalBytes: number;
  /** Keyed by backup type (`manual`, `automatic`, `pre-restore`, ...). */
  byType: Record<string, TypeUsage>;
  oldest: string | null;
  newest: string | null;
  newestVerifiedAt: string | null;
  /** The per-project quota; `null` when unlimited. */
  quotaBytes: number | null;
}

export interface ProjectBackupUsage extends BackupUsage {
  projectId: number;
  projectName: string;
}

export interface ServerBackupUsage extends BackupUsage {
  /** Free space of the archive storage; `null` when unknown (e.g. S3). */
  storageFreeBytes: number | null;
  /** One page of projects, biggest first. */
  projects: ProjectBackupUsage[];
  /** The number of projects with backups (`X-Total-Count`). */
  projectsTotal: number | null;
}

export interface VerifyReport {
  ok: boolean;
  checkedMembers: number;
  problems: JobError[];
  checksum: string | null;
  size: number | null;
}

export type SectionName =
  | 'project'
  | 'auth_settings'
  | 'users'
  | 'collections'
  | 'documents'
  | 'storage_buckets'
  | 'files'
  | 'functions'
  | 'function_domains'
  | 'ssh_keys'
  | 'github_repositories'
  | 'web_servers'
  | 'deployments'
  | 'api_keys'
  | 'cors_configs'
  | 'audit_logs';

export type RestoreStatus = 'pending' | 'running' | 'completed' | 'failed';

export interface RestoreOptionsEcho {
  dryRun?: boolean;
  sections?: SectionName[] | null;
  preRestoreBackup?: boolean;
  keepCredentialsActive?: boolean;
  [key: string]: any;
}

export interface Restore {
  id: number;
  backupId: number | null;
  sourceProjectId: number;
  targetProjectId: number;
  status: RestoreStatus;
  dryRun: boolean;
  options: RestoreOptionsEcho;
  progress: Progress;
  /** `{sections: {<section>: {create, replace, remove, skip}}, blobs}` */
  plan: { sections?: Record<string, { create: number; replace: number; remove: number; skip: number }>; [key: string]: any };
  warnings: Array<Record<string, any>>;
  preRestoreBackupId: number | null;
  undoOf: number | null;
  error: JobError | null;
  createdBy: Actor;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

export interface RestoreResult {
  message: string;
  targetProjectId: number;
  restore: Restore;
}

export interface RestoreOptions extends RequestOptions {
  /** Restore into another project (the caller must be its admin). */
  targetProjectId?: number;
  /** Plan only: nothing is changed. */
  dryRun?: boolean;
  /** Restore only these sections. */
  sections?: SectionName[];
  /** Back up the target first so the restore can be undone (default true). */
  preRestoreBackup?: boolean;
  /** Keep restored API keys active (default false). */
  keepCredentialsActive?: boolean;
  /** Wait for the end (default true); `false` answers at once with the restore object. */
  wait?: boolean;
}

export interface WaitOptions<T> extends RequestOptions {
  /** Called whenever the status or progress changes. */
  onProgress?: (progress: Progress, current: T) => void | Promise<void>;
  /** Poll interval (default 500 ms). */
  intervalMs?: number;
  /** Reject with `TIMEOUT` after this long. */
  timeoutMs?: number;
}

export type BackupEvent =
  | { event: 'progress'; data: Progress & { id: number; status: BackupStatus }; id?: string }
  | { event: 'status'; data: Backup; id?: string }
  | { event: string; data: any; id?: string };

export type BinaryInput = Blob | ArrayBuffer | ArrayBufferView | ReadableStream<Uint8Array>;

export interface ImportOptions extends RequestOptions {
  name?: string;
  /** Sent as multipart/form-data when given. */
  description?: string;
  /** Hex SHA-256 of the archive (with or without `sha256:`); computed for in-memory data when omitted. */
  sha256?: string;
  /** `false`: do not compute the checksum. */
  checksum?: boolean;
  /** File name of the multipart part. */
  filename?: string;
  projectId?: Id;
}

// ---------------------------------------------------------------- resources

export class Auth {
  register(input: { email: string; password: string; name: string }, options?: RequestOptions): Promise<Session>;
  login(input: { email: string; password: string }, options?: RequestOptions): Promise<Session>;
  logout(options?: RequestOptions): Promise<void>;
  me(options?: RequestOptions): Promise<User>;
  getToken(): string | null;
  setToken(token: string | null): void;
}

export class Projects {
  list(options?: ListOptions): Promise<ListResult<Project>>;
  create(input: { name: string; description?: string }, options?: RequestOptions): Promise<Project>;
  /** The client's project when `id` is omitted. */
  get(id?: Id, options?: RequestOptions): Promise<Project>;
  update(id: Id, changes: { name?: string; description?: string; settings?: Record<string, any> }, options?: RequestOptions): Promise<Project>;
  delete(id: Id, options?: RequestOptions): Promise<void>;
}

export class Members {
  list(options?: ListOptions): Promise<ListResult<Member>>;
  add(input: { email: string; role: Role }, options?: RequestOptions): Promise<Member>;
  update(userId: Id, changes: { role: Role }, options?: RequestOptions): Promise<Member>;
  remove(userId: Id, options?: RequestOptions): Promise<void>;
}

export class ApiKeys {
  list(options?: ListOptions): Promise<ListResult<ApiKey>>;
  create(input: { name: string; scopes: Scope[]; expiresAt?: string | null }, options?: RequestOptions): Promise<CreatedApiKey>;
  delete(id: Id, options?: RequestOptions): Promise<void>;
}

export class Cors {
  get(options?: RequestOptions): Promise<CorsConfig>;
  update(config: Partial<CorsConfig>, options?: RequestOptions): Promise<CorsConfig>;
}

export interface AuditLogQuery extends ListOptions {
  action?: string;
  resource?: string;
  since?: string | Date;
  until?: string | Date;
  success?: boolean;
}

export class AuditLogs {
  list(options?: AuditLogQuery): Promise<ListResult<AuditLogEntry>>;
}

export interface CollectionInput {
  name: string;
  description?: string;
  schema?: Record<string, any> | null;
  indexes?: string[];
}

export class Collections {
  list(options?: ListOptions): Promise<ListResult<Collection>>;
  create(input: CollectionInput, options?: RequestOptions): Promise<Collection>;
  get(name: string, options?: RequestOptions): Promise<Collection>;
  update(name: string, changes: Partial<CollectionInput>, options?: RequestOptions): Promise<Collection>;
  delete(name: string, options?: RequestOptions): Promise<void>;
}

export interface DocumentListOptions extends ListOptions {
  /** Equality on top-level fields: `{status: 'open', done: false}`. */
  filter?: Record<string, string | number | boolean | null>;
}

export class Documents<T extends DocumentData = DocumentData> {
  readonly collection: string;
  list(options?: DocumentListOptions): Promise<ListResult<CloudBoxDocument<T>>>;
  create(data: T, options?: RequestOptions & { id?: string }): Promise<CloudBoxDocument<T>>;
  get(id: string, options?: RequestOptions): Promise<CloudBoxDocument<T>>;
  /** JSON merge patch; `version` makes it conditional (412 `VERSION_CONFLICT`). */
  update(id: string, data: Partial<T> | Record<string, any>, options?: RequestOptions & { version?: number }): Promise<CloudBoxDocument<T>>;
  delete(id: string, options?: RequestOptions & { version?: number }): Promise<void>;
}

export interface BucketInput {
  name: string;
  description?: string;
  isPublic?: boolean;
  maxFileSize?: number;
  allowedTypes?: string[];
}

export class Buckets {
  list(options?: ListOptions): Promise<ListResult<Bucket>>;
  create(input: BucketInput, options?: RequestOptions): Promise<Bucket>;
  get(name: string, options?: RequestOptions): Promise<Bucket>;
  update(name: string, changes: Partial<BucketInput>, options?: RequestOptions): Promise<Bucket>;
  /** `force: true` also deletes the bucket's files. */
  delete(name: string, options?: RequestOptions & { force?: boolean }): Promise<void>;
}

export interface UploadOptions extends RequestOptions {
  /** File name (a File's own name by default, else `file`). */
  name?: string;
  contentType?: string;
  folderPath?: string;
}

export class Files {
  readonly bucket: string;
  list(options?: ListOptions & { folderPath?: string }): Promise<ListResult<StoredFile>>;
  upload(file: Blob | ArrayBuffer | ArrayBufferView | string, options?: UploadOptions): Promise<StoredFile>;
  get(fileId: string, options?: RequestOptions): Promise<StoredFile>;
  update(fileId: string, changes: { name?: string; folderPath?: string }, options?: RequestOptions): Promise<StoredFile>;
  delete(fileId: string, options?: RequestOptions): Promise<void>;
  download(fileId: string, options?: RangeOptions): Promise<ReadableStream<Uint8Array>>;
  downloadArrayBuffer(fileId: string, options?: RangeOptions & { verify?: boolean }): Promise<ArrayBuffer>;
  downloadBlob(fileId: string, options?: RangeOptions): Promise<Blob>;
}

export interface AppUserInput {
  email: string;
  password: string;
  name?: string | null;
  username?: string | null;
  isActive?: boolean;
  isEmailVerified?: boolean;
  profile?: Record<string, any>;
}

export class Users {
  list(options?: ListOptions): Promise<ListResult<AppUser>>;
  create(input: AppUserInput, options?: RequestOptions): Promise<AppUser>;
  get(id: string, options?: RequestOptions): Promise<AppUser>;
  update(id: string, changes: Partial<AppUserInput>, options?: RequestOptions): Promise<AppUser>;
  delete(id: string, options?: RequestOptions): Promise<void>;
}

export class AuthSettings {
  get(options?: RequestOptions): Promise<AuthSettingsConfig>;
  update(settings: Partial<AuthSettingsConfig>, options?: RequestOptions): Promise<AuthSettingsConfig>;
}

export class AppAuth {
  register(
    input: { email: string; password: string; name?: string; username?: string },
    options?: RequestOptions,
  ): Promise<AppSession>;
  login(input: { email: string; password: string }, options?: RequestOptions): Promise<AppSession & { token: string }>;
  me(options?: RequestOptions): Promise<AppUser>;
  logout(options?: RequestOptions): Promise<void>;
  getToken(): string | null;
  setToken(token: string | null): void;
}

export type PolicyRef = string | { id: string };

export class BackupPolicies {
  /** The project's policies, oldest first (`orderBy`: `createdAt`, `name`, `nextRunAt`). */
  list(options?: ListOptions & { projectId?: Id }): Promise<ListResult<BackupPolicy>>;
  create(input: BackupPolicyInput, options?: RequestOptions & { projectId?: Id }): Promise<BackupPolicy>;
  get(id: PolicyRef, options?: RequestOptions): Promise<BackupPolicy>;
  /** Changes only the fields given. */
  update(id: PolicyRef, changes: BackupPolicyChanges, options?: RequestOptions): Promise<BackupPolicy>;
  /** The policy and its run history go; its backups stay. */
  delete(id: PolicyRef, options?: RequestOptions): Promise<void>;
  /** Fired slots, newest first (`orderBy`: `slotTime`, `createdAt`). */
  runs(id: PolicyRef, options?: ListOptions): Promise<ListResult<PolicyRun>>;
  /** What retention would delete now (nothing is deleted); the values given replace the saved ones for the preview. */
  retentionDryRun(id: PolicyRef, options?: RetentionOverrides): Promise<RetentionPreview>;
}

export class Backups {
  /** Backup policies: automatic backups on a schedule, with retention. */
  readonly policies: BackupPolicies;
  /** The project's backup storage (project developers and above). */
  usage(options?: RequestOptions & { projectId?: Id }): Promise<BackupUsage>;
  /** Every project's backup storage (platform admins only); `orderBy`: `totalBytes`, `count`, `newest`, `projectId`. */
  serverUsage(options?: ListOptions): Promise<ServerBackupUsage>;
  /** Starts a backup; answers at once with `status: 'creating'`. */
  create(
    input: { name: string; description?: string; type?: 'manual' | 'automatic' },
    options?: RequestOptions & { projectId?: Id },
  ): Promise<Backup>;
  /** Newest first. */
  list(options?: ListOptions & { projectId?: Id }): Promise<ListResult<Backup>>;
  get(id: Id, options?: RequestOptions): Promise<Backup>;
  delete(id: Id, options?: RequestOptions): Promise<void>;
  restore(id: Id, options: RestoreOptions & { wait: false }): Promise<Restore>;
  restore(id: Id, options?: RestoreOptions): Promise<RestoreResult>;
  /** The archive as a stream of bytes. */
  download(id: Id, options?: RangeOptions): Promise<ReadableStream<Uint8Array>>;
  /** The archive in memory, checked against the server's SHA-256 digest (unless `verify: false`). */
  downloadArrayBuffer(id: Id, options?: RangeOptions & { verify?: boolean }): Promise<ArrayBuffer>;
  import(data: BinaryInput, options?: ImportOptions): Promise<Backup>;
  verify(id: Id, options?: RequestOptions): Promise<VerifyReport>;
  cancel(id: Id, options?: RequestOptions): Promise<Backup>;
  /** Resolves with the completed backup; rejects with a CloudBoxError (the backup's error code) when it fails. */
  waitForCompletion(id: Id, options?: WaitOptions<Backup>): Promise<Backup>;
  /** Server-sent events: `progress` events, then one `status` event with the final backup. */
  events(id: Id, options?: RequestOptions): AsyncGenerator<BackupEvent, void, undefined>;
}

export class Restores {
  get(id: Id, options?: RequestOptions): Promise<Restore>;
  /** Restores into the client's project, newest first. */
  list(options?: ListOptions & { projectId?: Id }): Promise<ListResult<Restore>>;
  undo(id: Id, options: RequestOptions & { wait: false }): Promise<Restore>;
  undo(id: Id, options?: RequestOptions & { wait?: boolean }): Promise<RestoreResult>;
  waitForCompletion(id: Id, options?: WaitOptions<Restore>): Promise<Restore>;
}

export interface CollectionHandle<T extends DocumentData = DocumentData> {
  readonly name: string;
  readonly documents: Documents<T>;
  get(options?: RequestOptions): Promise<Collection>;
  update(changes: Partial<CollectionInput>, options?: RequestOptions): Promise<Collection>;
  delete(options?: RequestOptions): Promise<void>;
}

export interface BucketHandle {
  readonly name: string;
  readonly files: Files;
  get(options?: RequestOptions): Promise<Bucket>;
  update(changes: Partial<BucketInput>, options?: RequestOptions): Promise<Bucket>;
  delete(options?: RequestOptions & { force?: boolean }): Promise<void>;
}

export class CloudBox {
  constructor(options?: CloudBoxOptions);
  /** The server's base URL, without `/api`. */
  readonly endpoint: string;
  /** The platform token in use. */
  readonly token: string | null;
  projectId: Id | null;

  readonly auth: Auth;
  readonly projects: Projects;
  readonly members: Members;
  readonly apiKeys: ApiKeys;
  readonly cors: Cors;
  readonly auditLogs: AuditLogs;
  readonly collections: Collections;
  readonly buckets: Buckets;
  readonly users: Users;
  readonly authSettings: AuthSettings;
  readonly appAuth: AppAuth;
  readonly backups: Backups;
  readonly restores: Restores;
  readonly storage: {
    readonly buckets: Buckets;
    from(bucket: string): Files;
    bucket(bucket: string): BucketHandle;
  };

  /** The same client (credentials, tokens) acting on another project. */
  project(projectId: Id): CloudBox;
  collection<T extends DocumentData = DocumentData>(name: string): CollectionHandle<T>;
  documents<T extends DocumentData = DocumentData>(collection: string): Documents<T>;
  bucket(name: string): BucketHandle;
  health(options?: RequestOptions): Promise<{ status: string; version: string }>;
}

/** Deeply convert keys to camelCase (values of user-data keys such as `data` are untouched). */
export function camelKeys<T = any>(value: unknown): T;
/** Deeply convert keys to snake_case (values of user-data keys such as `data` are untouched). */
export function snakeKeys<T = any>(value: unknown): T;
/** Parse a `text/event-stream` body. */
export function parseEventStream(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ event: string; data: string; id?: string; retry?: number }, void, undefined>;

export default CloudBox;
