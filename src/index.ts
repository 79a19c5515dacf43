import { createApp } from './app'
import type { Bindings } from './config'
import { purgeExpired } from './db/purge'

const app = createApp()

export type { AppType } from './app'

export default {
  fetch: app.fetch,
  scheduled: (_controller, env, ctx) => ctx.waitUntil(purgeExpired(env)),
} satisfies ExportedHandler<Bindings>
