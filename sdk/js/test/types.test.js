// The shipped TypeScript definitions compile, and describe the spec's calls
// (types-test/usage.ts is type-checked with the dev dependency `typescript`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

test('index.d.ts type-checks the documented usage (tsc --strict)', (t) => {
  if (!existsSync(tsc)) {
    t.skip('typescript is not installed: run `npm ci` first');
    return;
  }
  const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'types-test', 'tsconfig.json')], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
});
