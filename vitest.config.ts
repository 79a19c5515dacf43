import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin'
import { configDefaults, defineConfig } from 'vitest/config'

// The config runs in Node; the project's types are the Worker's, without @types/node.
declare const process: { env: Record<string, string | undefined> }

// The pool reads wrangler.toml with wrangler, which warns that the required JWT_SECRET is in no
// .dev.vars: expected, the pool's bindings below give it. `npm test` runs `wrangler types --check`
// first, which shows any real problem of the config. WRANGLER_LOG=warn shows them here too.
process.env.WRANGLER_LOG ??= 'error'

export default defineConfig({
  test: {
    projects: [
      {
        // Tests run inside workerd against the real Worker (src/index.ts via wrangler.toml) and a real
        // local D1, migrated from migrations/ by test/setup.ts. Storage is isolated per test file.
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              // A fake OpenID provider (test/fake-idp/worker.js), which also answers every outbound fetch of the
              // Worker and the tests: nothing reaches the network.
              workers: [
                {
                  name: 'fake-idp',
                  modules: true,
                  scriptPath: './test/fake-idp/worker.js',
                  compatibilityDate: '2026-11-01',
                },
              ],
              outboundService: 'fake-idp',
              bindings: {
                JWT_SECRET: 'test-only-secret-0123456789abcdef0123456789abcdef',
                // Cheap hashes keep the suite fast; production defaults to 10.
                BCRYPT_COST: '4',
                // The tests' origin (test/helpers.ts): outside loopback, ISSUER must be set.
                ISSUER: 'https://todo.test',
                // Upstream identity providers (docs/federation.md): their secrets' key, loopback issuers.
                IDP_SECRET_KEY: 'test-only-idp-key-0123456789abcdef0123456789',
                ALLOW_INSECURE_IDP: 'true',
                TEST_MIGRATIONS: await readD1Migrations('./migrations'),
              },
            },
          })),
        ],
        test: {
          name: 'workers',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/node/**'],
          setupFiles: ['./test/setup.ts'],
          // Chosen, not defaulted: each file gets its own workerd and D1 (and vitest then stops
          // suggesting isolate: false, which would share them).
          isolate: true,
          // Every vi.spyOn ends with its test (e.g. quietConsoleError in test/helpers.ts).
          restoreMocks: true,
        },
      },
      // The few checks whose tools need Node itself (file system access).
      { test: { name: 'node', include: ['test/node/**/*.test.ts'], environment: 'node' } },
    ],
  },
})
