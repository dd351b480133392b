/**
 * Every temp dir a test makes (os.tmpdir() reads TMPDIR) lands in one directory per run, which
 * global-teardown.js removes, so test runs leave nothing behind in /tmp. Workers inherit the env.
 */
const { execFileSync } = require('node:child_process');
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

module.exports = async () => {
  // The inference workers run the compiled recipe (recipe.js; a worker thread has no TypeScript transform):
  // build first, so no test runs a stale copy of it (a no-op of about 2 s when the build is current).
  execFileSync(require.resolve('typescript/bin/tsc'), ['-b'], { cwd: join(__dirname, '..'), stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'capcheck-jest-'));
  process.env.CAPCHECK_TEST_TMPDIR = dir;
  process.env.TMPDIR = dir;
};
