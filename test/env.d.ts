import type { D1Migration } from 'cloudflare:test'

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[]
      /** Non-empty: print every query plan (vitest.config.ts passes QUERY_PLANS through). */
      QUERY_PLANS: string
      JWT_SECRET_PREVIOUS?: string
    }
  }
}
