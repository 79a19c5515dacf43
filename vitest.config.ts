import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin'
import { configDefaults, defineConfig } from 'vitest/config'

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
              bindings: {
                JWT_SECRET: 'test-only-secret-0123456789abcdef0123456789abcdef',
                // Cheap hashes keep the suite fast; production defaults to 10.
                BCRYPT_COST: '4',
                // The tests' origin (test/helpers.ts): outside loopback, ISSUER must be set.
                ISSUER: 'https://todo.test',
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
        },
      },
      // The few checks whose tools need Node itself (file system access).
      { test: { name: 'node', include: ['test/node/**/*.test.ts'], environment: 'node' } },
    ],
  },
})
