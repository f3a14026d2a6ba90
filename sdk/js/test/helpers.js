// Test helpers: start a real CloudBox server process (once per test file), create
// accounts and data, capture console output, assert error codes.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

import { CloudBox, CloudBoxError } from '../src/index.js';

export const PYTHON = process.env.CLOUDBOX_PYTHON || '/work/main/.venv/bin/python';
export const MASTER_KEY = 'js-sdk-test-master-key-0123456789';
export const PASSWORD = 'a-long-password-123';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Start `python -m cloudbox.cli.main serve` on a free port with a fresh data directory.
 * Resolves once `GET /api/health` answers; `stop()` kills it and removes the directory.
 */
export async function startServer({ env = {}, timeoutMs = 60_000 } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'cloudbox-js-'));
  const port = await freePort();
  // The server's settings come from here only: inherited CLOUDBOX_* (e.g. a PostgreSQL
  // or Redis URL of the developer's shell) would make the server share state.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(CLOUDBOX_|BACKUP_DIR$|MASTER_KEY$)/.test(key)),
  );
  const child = spawn(PYTHON, ['-m', 'cloudbox.cli.main', 'serve'], {
    cwd: dataDir,
    env: {
      ...inherited,
      CLOUDBOX_DATA_DIR: dataDir,
      CLOUDBOX_HOST: '127.0.0.1',
      CLOUDBOX_PORT: String(port),
      MASTER_KEY,
      CLOUDBOX_JOB_PROGRESS_INTERVAL_SECONDS: '0.1',
      CLOUDBOX_ENV: 'development',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let log = '';
  const keep = (chunk) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve(exited);
    });
  });
  child.on('error', (error) => {
    exited = { error };
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      await rm(dataDir, { recursive: true, force: true });
      throw new Error(`CloudBox server exited before it was ready (${JSON.stringify(exited)}):\n${log}`);
    }
    try {
      const response = await fetch(`${endpoint}/api/health`);
      if (response.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`CloudBox server did not answer /api/health within ${timeoutMs} ms:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    endpoint,
    port,
    dataDir,
    log: () => log,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exit;
        clearTimeout(timer);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

let counter = 0;
export function uniqueEmail(prefix = 'user') {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now()}-${counter}@example.com`;
}

/** Register a platform user; returns a client holding their token. */
export async function registerUser(endpoint, { name = 'Test User', email = uniqueEmail() } = {}) {
  const client = new CloudBox({ endpoint });
  const answer = await client.auth.register({ email, password: PASSWORD, name });
  return { client, email, user: answer.user, token: answer.token };
}

/** Assert that `promise` rejects with a CloudBoxError with this server code (and status). */
export async function rejectsWithCode(promise, code, status) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof CloudBoxError, `expected a CloudBoxError, got ${error}`);
    assert.equal(error.code, code, `expected code ${code}, got ${error.code}: ${error.message}`);
    if (status !== undefined) assert.equal(error.status, status);
    assert.equal(typeof error.message, 'string');
    assert.ok(error.message.length > 0);
    assert.equal(typeof error.details, 'object');
    return true;
  });
}

/** Random, incompressible bytes (distinct per call, so blobs do not deduplicate). */
export function randomBytes(size) {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65_536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65_536)));
  }
  return bytes;
}

/**
 * Give a project enough content that its backup takes a noticeable time: a collection
 * with `documents` documents and a bucket with `files` files of `fileBytes` random bytes.
 */
export async function fillProject(client, { documents = 50, files = 3, fileBytes = 4 * 1024 * 1024, concurrency = 8 } = {}) {
  await client.collections.create({ name: 'items', description: 'test data' });
  const docs = client.documents('items');
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < documents) {
        const n = next++;
        await docs.create({ n, title: `Item ${n}`, nested_key: { innerKey: n } }, { id: `item-${n}` });
      }
    }),
  );
  await client.buckets.create({ name: 'assets' });
  const uploads = [];
  for (let i = 0; i < files; i++) {
    uploads.push(client.bucket('assets').files.upload(randomBytes(fileBytes), { name: `blob-${i}.bin` }));
  }
  await Promise.all(uploads);
}

/** A console stand-in that records what it is given. */
export function captureConsole() {
  const lines = [];
  const record =
    (level) =>
    (...args) =>
      lines.push({ level, text: args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ') });
  return { lines, console: { log: record('log'), error: record('error'), warn: record('warn'), info: record('info') } };
}

export async function readAll(stream) {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
