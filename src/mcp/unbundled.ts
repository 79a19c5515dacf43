/**
 * What the Worker's bundle has instead of four packages the MCP SDK imports but this Worker never
 * runs: wrangler.toml's `[alias]` points them here, for `wrangler deploy` and `wrangler dev`.
 *
 * - `ajv`, `ajv-formats`: the SDK's default JSON Schema validator, imported by its Server
 *   whether used or not. It compiles schemas with `new Function`, which workerd forbids; the
 *   server is given @cfworker/json-schema instead (src/mcp/routes.ts), so ajv is never built.
 * - `zod/v3`, `zod-to-json-schema`: the SDK's paths for Zod 3 schemas; the tools' are Zod 4.
 *
 * They are about 130 KiB of the gzipped bundle (docs/performance.md, "Bundle budget"). Should
 * the SDK ever reach one of them, it fails loudly here rather than doing something else.
 */
const unbundled = (what: string) => () => {
  throw new Error(`${what} is not in this Worker's bundle (wrangler.toml [alias])`)
}

/** `import Ajv from 'ajv'`, `import addFormats from 'ajv-formats'`. */
export default class NotBundled {
  constructor() {
    unbundled('ajv')()
  }
}

/** `import { zodToJsonSchema } from 'zod-to-json-schema'`. */
export const zodToJsonSchema = unbundled('zod-to-json-schema')

/** `import * as z3 from 'zod/v3'`: the one function the SDK calls on it. */
export const object = unbundled('zod/v3')
