/** One jest run for the whole workspace; packages are mapped to their sources so tests need no build. */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleNameMapper: {
    '^@capcheck/shared$': '<rootDir>/shared/src/index.ts',
    '^@capcheck/users$': '<rootDir>/services/users/src/index.ts',
    '^@capcheck/images$': '<rootDir>/services/images/src/index.ts',
    '^@capcheck/inference$': '<rootDir>/services/inference/src/index.ts',
    '^@capcheck/local$': '<rootDir>/local/src/index.ts',
  },
  testMatch: [
    '<rootDir>/{shared,services,local,e2e,web}/**/test/**/*.test.ts',
    '<rootDir>/e2e/**/*.test.ts',
    '<rootDir>/{gateway,nginx,monitoring,deploy}/test/**/*.test.ts',
  ],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  verbose: true,
  reporters: ['default', '<rootDir>/test-support/summary-reporter.js'],
  globalSetup: '<rootDir>/test-support/global-setup.js',
  globalTeardown: '<rootDir>/test-support/global-teardown.js',
  testTimeout: 20000,
};
