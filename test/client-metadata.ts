import { uniqueName } from './helpers'

/**
 * Client ID Metadata Documents for the tests: published at https URLs by the fake worker that
 * answers every outbound fetch (test/fake-idp/worker.js), so the Worker fetches them as it would
 * on the Internet, with nothing mocked in the Worker itself.
 */

export type Served = {
  body: unknown
  status?: number
  headers?: Record<string, string>
  delayMs?: number
  chunked?: boolean
}

/** Makes `GET url` answer as described (a plain object: a 200 JSON document). */
export async function serve(url: string, served: Served): Promise<void> {
  const res = await fetch(url, {
    method: 'PUT',
    headers: { 'x-fake-document': '1' },
    body: JSON.stringify(served),
  })
  if (res.status !== 204) throw new Error(`the fake did not take ${url}: ${res.status}`)
}

/** How often `url` was fetched (by the Worker) since it was served. */
export async function fetches(url: string): Promise<number> {
  const res = await fetch(url, { headers: { 'x-fake-document-count': '1' } })
  return ((await res.json()) as { count: number }).count
}

/** A fresh Client Identifier URL on a host of its own. */
export const clientIdUrl = (prefix = 'app') =>
  `https://${uniqueName(prefix).toLowerCase()}.example/oauth/client.json`

/** A document whose client_id is `url`, with these fields over the defaults. */
export const metadataDocument = (url: string, fields: Record<string, unknown> = {}) => ({
  client_id: url,
  client_name: 'Example MCP Client',
  redirect_uris: ['https://app.example/cb'],
  token_endpoint_auth_method: 'none',
  ...fields,
})

/** Publishes a valid document at a fresh URL (cached a minute) and returns that URL. */
export async function publishedClient(
  fields: Record<string, unknown> = {},
  headers: Record<string, string> = { 'Cache-Control': 'max-age=60' },
): Promise<string> {
  const url = clientIdUrl()
  await serve(url, { body: metadataDocument(url, fields), headers })
  return url
}

export type KeyPair = { privateKey: CryptoKey; publicJwk: JsonWebKey & { kid: string } }

/** A signing key pair for private_key_jwt: ES256 (P-256) or RS256 (2048 bits). */
export async function keyPair(alg: 'ES256' | 'RS256' = 'ES256', kid = 'k1'): Promise<KeyPair> {
  const params =
    alg === 'ES256'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        }
  const pair = (await crypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair
  const jwk = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as JsonWebKey
  const { key_ops: _ops, ext: _ext, ...pub } = jwk
  return { privateKey: pair.privateKey, publicJwk: { ...pub, kid, alg, use: 'sig' } }
}

const b64u = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '')
const b64uJson = (v: unknown) => b64u(new TextEncoder().encode(JSON.stringify(v)))

/**
 * A client assertion (RFC 7523 §2.2) for `clientId`, signed by `key` (ES256 or RS256 by the key's
 * type): valid for the test issuer unless `claims` or `header` say otherwise.
 */
export async function assertion(
  key: CryptoKey,
  clientId: string,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const ec = key.algorithm.name === 'ECDSA'
  const head = b64uJson({ alg: ec ? 'ES256' : 'RS256', kid: 'k1', ...header })
  const body = b64uJson({
    iss: clientId,
    sub: clientId,
    aud: 'https://todo.test',
    iat: now,
    exp: now + 60,
    jti: crypto.randomUUID(),
    ...claims,
  })
  const algorithm = ec ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' }
  const signature = await crypto.subtle.sign(
    algorithm,
    key,
    new TextEncoder().encode(`${head}.${body}`),
  )
  return `${head}.${body}.${b64u(new Uint8Array(signature))}`
}

/** The same claims and header, unsigned (alg none) or signed with a shared secret (HS256). */
export async function unsignedAssertion(
  clientId: string,
  alg: 'none' | 'HS256',
  secret = 'a-secret-anyone-could-guess',
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const head = b64uJson({ alg, kid: 'k1' })
  const body = b64uJson({
    iss: clientId,
    sub: clientId,
    aud: 'https://todo.test',
    exp: now + 60,
    jti: crypto.randomUUID(),
  })
  if (alg === 'none') return `${head}.${body}.`
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${head}.${body}`))
  return `${head}.${body}.${b64u(new Uint8Array(mac))}`
}

/** The form fields of private_key_jwt. */
export const assertionFields = (jwt: string) => ({
  client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
  client_assertion: jwt,
})
