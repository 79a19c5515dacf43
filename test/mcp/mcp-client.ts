import { env } from 'cloudflare:test'
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js'
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker'
import { expect } from 'vitest'
import { createApp } from '../../src/app'
import { call, form, type TestUser } from '../helpers'
import { Browser, requestToken } from '../oauth-client'

/**
 * The MCP SDK's own client against the Worker, inside the workers pool: its transport's and its
 * OAuth's requests go to the app (`createApp().request`, with RFC 7591 registration on, as
 * `npm run dev` runs it) instead of the network, and a person's browser is test/oauth-client.ts's
 * Browser on the real login and consent pages. The SDK's default validator is ajv, which workerd
 * cannot run (it compiles with `new Function`): the client gets @cfworker/json-schema too.
 */

export const ORIGIN = 'https://todo.test'
export const MCP = `${ORIGIN}/mcp`
export const CALLBACK = 'http://127.0.0.1:33418/callback'

const app = createApp()
const worker = { ...env, ALLOW_CLIENT_REGISTRATION: 'true' }

/** Every request of the SDK, and of the browser below, into the Worker's app. */
export const toWorker = async (url: string | URL, init?: RequestInit): Promise<Response> =>
  app.request(String(url), init, worker)

/** A browser whose requests go to the same app as the SDK's. */
export const browser = () => new Browser((path, init) => toWorker(`${ORIGIN}${path}`, init ?? {}))

/**
 * An MCP client's OAuth state, kept in memory, as a desktop assistant would keep it. It records
 * the authorization URL the SDK would open in a browser, for the test to follow as a person.
 * `keepRefreshTokens: false` keeps only access tokens (see the step-up test for why).
 */
export class TestProvider implements OAuthClientProvider {
  authorizationUrl?: URL
  private info?: OAuthClientInformationMixed
  private saved?: OAuthTokens
  private verifier = ''

  constructor(private readonly opts: { keepRefreshTokens?: boolean } = {}) {}

  get redirectUrl() {
    return CALLBACK
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'MCP SDK test client',
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }
  }

  clientInformation() {
    return this.info
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info
  }
  tokens() {
    return this.saved
  }
  saveTokens(tokens: OAuthTokens) {
    const keep = this.opts.keepRefreshTokens ?? true
    this.saved = keep ? tokens : { ...tokens, refresh_token: undefined }
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier
  }
  codeVerifier() {
    return this.verifier
  }
}

export const transportFor = (provider: TestProvider) =>
  new StreamableHTTPClientTransport(new URL(MCP), { authProvider: provider, fetch: toWorker })

export const newClient = () =>
  new Client(
    { name: 'todo-auth tests', version: '1.0.0' },
    { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
  )

/**
 * What a person does with the URL the SDK would open: signs in (unless this browser already
 * is), allows, and is sent back to the client's callback; the code, after checking `state`-less
 * RFC 9207 `iss`.
 */
export async function authorizeAsPerson(
  url: URL,
  user: Pick<TestUser, 'username' | 'password'>,
  person = browser(),
): Promise<string> {
  expect(url.origin).toBe(ORIGIN)
  let res = await person.get(url.pathname + url.search)
  let html = await res.clone().text()
  if (html.includes('action="/auth/authorize/login"')) {
    res = await person.post('/auth/authorize/login', {
      request: requestToken(html),
      username: user.username,
      password: user.password,
    })
    html = await res.clone().text()
  }
  if (res.status === 200) {
    expect(html).toContain('action="/auth/authorize/consent"')
    res = await person.post('/auth/authorize/consent', {
      request: requestToken(html),
      decision: 'allow',
    })
  }
  expect(res.status, await res.clone().text()).toBe(303)
  const back = new URL(res.headers.get('Location')!)
  expect(`${back.origin}${back.pathname}`).toBe(CALLBACK)
  expect(back.searchParams.get('iss')).toBe(ORIGIN)
  expect(back.searchParams.get('error'), back.search).toBeNull()
  return back.searchParams.get('code')!
}

/** An access token for `user` through the password grant, for `resource`. */
export async function passwordToken(
  user: Pick<TestUser, 'username' | 'password'>,
  fields: Record<string, string> = {},
): Promise<string> {
  const res = await call(
    '/auth/token',
    form({ grant_type: 'password', username: user.username, password: user.password, ...fields }),
  )
  expect(res.status, await res.clone().text()).toBe(200)
  return ((await res.json()) as { access_token: string }).access_token
}

/** One JSON-RPC message to /mcp, as a client that negotiated `version` sends it. */
export const rpc = (token: string | null, body: unknown, version = '2025-11-25') =>
  call('/mcp', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': version,
      ...(token && { Authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  })

/** A tools/call of `name` with `args`, its JSON-RPC result. */
export async function callTool(token: string, name: string, args: Record<string, unknown> = {}) {
  const res = await rpc(token, {
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name, arguments: args },
  })
  expect(res.status, await res.clone().text()).toBe(200)
  const body = (await res.json()) as { result: ToolResult }
  return body.result
}

export type ToolResult = {
  content: { type: string; text: string }[]
  structuredContent?: Record<string, unknown>
  isError?: boolean
}
