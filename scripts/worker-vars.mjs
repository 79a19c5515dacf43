// The Worker's vars as the operator CLIs must see them: wrangler.toml's [vars], and, for the local
// D1 of `npm run dev`, what `npm run dev` sets on top of them (so a CLI accepts locally what the
// dev server accepts, e.g. a loopback identity provider). One list, used by scripts/dev.mjs too.

/** The vars `npm run dev` sets with `--var`, besides ISSUER (which depends on the port). */
export const LOCAL_DEV_VARS = {
  ALLOW_SIGNUP: 'true',
  ALLOW_CLIENT_REGISTRATION: 'true',
  // Upstream OpenID providers on loopback http (a local node-oidc-provider), for development only.
  ALLOW_INSECURE_IDP: 'true',
  // The MCP Inspector's page (`npx @modelcontextprotocol/inspector`), which runs its OAuth flow
  // in the browser: discovery, registration and the token endpoint are cross-origin fetches.
  CORS_ORIGINS: 'http://localhost:6274',
  // Client ID Metadata Documents served on loopback http (a client under development).
  ALLOW_INSECURE_CLIENT_METADATA: 'true',
}

/**
 * wrangler.toml's vars, plus LOCAL_DEV_VARS unless `remote` (the deployed Worker's are
 * wrangler.toml's alone). wrangler is imported only when called: it is large.
 * @param {{ remote?: boolean }} target
 */
export async function workerVars({ remote = false } = {}) {
  const { vars } = (await import('wrangler')).unstable_readConfig({ config: 'wrangler.toml' })
  return remote ? vars : { ...vars, ...LOCAL_DEV_VARS }
}
