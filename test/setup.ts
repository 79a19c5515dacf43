import { applyD1Migrations, env } from 'cloudflare:test'

// Idempotent: applies only what this file's isolated D1 has not seen yet.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS)
