const { rmSync } = require('node:fs');

/** Removes the run's temp directory (see global-setup.js). */
module.exports = async () => {
  const dir = process.env.CAPCHECK_TEST_TMPDIR;
  if (dir) rmSync(dir, { recursive: true, force: true });
};
