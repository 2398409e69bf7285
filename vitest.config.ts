import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests start real worker threads and child processes; forks keep them apart.
    pool: 'forks',
    reporters: ['default']
  }
})
