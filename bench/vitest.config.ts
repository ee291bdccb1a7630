import { defineConfig } from 'vitest/config';

// Benchmarks run through vitest so they can start fly-sim from its TypeScript sources. They
// are kept out of the root config, so `npm test` never runs them.
export default defineConfig({
  ssr: { resolve: { conditions: ['@flydr/source'] } },
  resolve: { conditions: ['@flydr/source'] },
  test: {
    include: ['bench/**/*.bench-run.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
