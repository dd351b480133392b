/**
 * Every temp dir a test makes (os.tmpdir() reads TMPDIR) lands in one directory per run, which
 * global-teardown.js removes, so test runs leave nothing behind in /tmp. Workers inherit the env.
 */
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

module.exports = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capcheck-jest-'));
  process.env.CAPCHECK_TEST_TMPDIR = dir;
  process.env.TMPDIR = dir;
};
