// A fake OpenID provider for the workerd tests (docs/federation.md): an auxiliary worker of the test pool
// (vitest.config.ts), which also receives every outbound fetch of the Worker under test. It has
// its own ES256 signing key and JWKS, and is stateless: the authorization code it issues carries
// (unsigned, this is a test double) the request and the test's chosen claims and faults, so each
// test states exactly what the provider says and does wrong:
//   GET /authorize?…&fake=<base64url JSON>  →  303 to redirect_uri with code, state, iss
// fake: { sub, email, email_verified, preferred_username, name, error, state, iss (string, or
//         null to omit it), id: { iss, aud, azp, nonce, exp_offset, key: 'other', alg: 'none' } }
// Any origin works as an issuer (https://idp.test, https://corp.test, http://127.0.0.1:9/…).
const KEYS = {
  main: {
    kty: 'EC',
    crv: 'P-256',
    x: 'hUcCwaAQFw5MeGhcu1btXD0s4pBQoBIjE9WfX3uH10k',
    y: 'k5nHB4hUhZAdjB3LS9aEf4e_0rfAtL7sPl2Vgrjck0k',
    d: '5ikgf_gUmkmnq4NWHuI83csy-e-Vo2jkLuI0CqXgrAs',
  },
  // Not in the JWKS: a signature by another key.
  other: {
    kty: 'EC',
    crv: 'P-256',
    x: 'RltACEzoQgzkvPqiSnugdGm13VBaWMaltzWdJbaj3AI',
    y: 'aLLzvMiDz9rEJnktbuRJ7R3WVtPYvIJlm-g7kVhsmbQ',
    d: 'NLyH8SuFaasfl5Sn2WCnvhG6Z0a8aQ5yd3C4cXfP-vE',
  },
}
const CLIENT_ID = 'todo-auth'
const CLIENT_SECRET = 'fake-idp-secret'

const enc = new TextEncoder()
const b64u = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '')
const b64uJson = (v) => b64u(enc.encode(JSON.stringify(v)))
const fromB64uJson = (s) => JSON.parse(atob(s.replaceAll('-', '+').replaceAll('_', '/')))

async function sign(payload, fault = {}) {
  if (fault.alg === 'none') return `${b64uJson({ alg: 'none' })}.${b64uJson(payload)}.`
  const which = fault.key === 'other' ? 'other' : 'main'
  const header = b64uJson({ alg: 'ES256', kid: 'main', typ: 'JWT' })
  const body = b64uJson(payload)
  const key = await crypto.subtle.importKey(
    'jwk',
    KEYS[which],
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  )
  const sig = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key,
    enc.encode(`${header}.${body}`),
  )
  return `${header}.${body}.${b64u(sig)}`
}

const json = (body, status = 200) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
  })

async function s256(verifier) {
  return b64u(await crypto.subtle.digest('SHA-256', enc.encode(verifier)))
}

// Documents the tests publish at https URLs of their choosing (Client ID Metadata Documents and
// JWKS, test/client-metadata.ts): `PUT <url>` with `x-fake-document` and a JSON description
// { body (string, or JSON to serialise), status, headers, delayMs, chunked } makes `GET <url>`
// answer that way; `GET <url>` with `x-fake-document-count` says how often it was fetched. State
// lives in this isolate, which each test file has to itself (vitest.config.ts `isolate`).
const DOCUMENTS = new Map()

async function document(request, url) {
  if (request.method === 'PUT' && request.headers.has('x-fake-document')) {
    DOCUMENTS.set(url.href, { ...(await request.json()), fetches: 0 })
    return new Response(null, { status: 204 })
  }
  const served = DOCUMENTS.get(url.href)
  if (request.headers.has('x-fake-document-count')) return json({ count: served?.fetches ?? 0 })
  if (!served || request.method !== 'GET') return null
  served.fetches++
  if (served.delayMs) await new Promise((resolve) => setTimeout(resolve, served.delayMs))
  const text = typeof served.body === 'string' ? served.body : JSON.stringify(served.body)
  const bytes = enc.encode(text)
  // A stream has no Content-Length: the reader must stop by itself.
  const body = served.chunked
    ? new ReadableStream({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 1024) controller.enqueue(bytes.slice(i, i + 1024))
          controller.close()
        },
      })
    : bytes
  return new Response(body, {
    status: served.status ?? 200,
    headers: { 'Content-Type': 'application/json', ...served.headers },
  })
}

export default {
  async fetch(request) {
    const url = new URL(request.url)
    const published = await document(request, url)
    if (published) return published
    const issuer =
      url.origin + url.pathname.replace(/\/(\.well-known\/.*|authorize|token|jwks)$/, '')
    const path = url.pathname.slice(new URL(issuer).pathname.replace(/\/$/, '').length)
    if (path === '/.well-known/openid-configuration')
      return json({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        authorization_response_iss_parameter_supported: true,
      })
    if (path === '/jwks') {
      const { d, ...pub } = KEYS.main
      return json({ keys: [{ ...pub, kid: 'main', use: 'sig', alg: 'ES256' }] })
    }
    if (path === '/authorize') {
      const q = url.searchParams
      const fake = q.get('fake') ? fromB64uJson(q.get('fake')) : {}
      const back = new URL(q.get('redirect_uri'))
      if (fake.error) back.searchParams.set('error', fake.error)
      else
        back.searchParams.set(
          'code',
          b64uJson({
            fake,
            nonce: q.get('nonce'),
            client_id: q.get('client_id'),
            redirect_uri: q.get('redirect_uri'),
            challenge: q.get('code_challenge'),
            method: q.get('code_challenge_method'),
          }),
        )
      back.searchParams.set('state', fake.state ?? q.get('state'))
      if (fake.iss !== null) back.searchParams.set('iss', fake.iss ?? issuer)
      return new Response(null, { status: 303, headers: { Location: back.href } })
    }
    if (path === '/token' && request.method === 'POST') {
      const form = new URLSearchParams(await request.text())
      const auth = request.headers.get('Authorization') ?? ''
      // RFC 6749 §2.3.1: both halves form-urlencoded, then base64.
      const [user, secret] = atob(auth.replace(/^Basic /, ''))
        .split(':')
        .map(decodeURIComponent)
      if (user !== CLIENT_ID || secret !== CLIENT_SECRET)
        return json({ error: 'invalid_client', error_description: `${user}:${secret}` }, 401)
      let code
      try {
        code = fromB64uJson(form.get('code') ?? '')
      } catch {
        return json({ error: 'invalid_grant' }, 400)
      }
      if (
        code.method !== 'S256' ||
        code.challenge !== (await s256(form.get('code_verifier') ?? '')) ||
        code.redirect_uri !== form.get('redirect_uri') ||
        code.client_id !== CLIENT_ID
      )
        return json({ error: 'invalid_grant', error_description: 'PKCE or redirect_uri' }, 400)
      const f = code.fake
      const id = f.id ?? {}
      const now = Math.floor(Date.now() / 1000)
      const claims = {
        iss: id.iss ?? issuer,
        sub: f.sub ?? 'subject-1',
        aud: id.aud ?? CLIENT_ID,
        ...(id.azp && { azp: id.azp }),
        iat: now + (id.exp_offset ?? 0) - 60,
        exp: now + (id.exp_offset ?? 300),
        nonce: id.nonce ?? code.nonce,
        ...(f.email !== undefined && { email: f.email }),
        ...(f.email_verified !== undefined && { email_verified: f.email_verified }),
        ...(f.preferred_username && { preferred_username: f.preferred_username }),
        ...(f.name && { name: f.name }),
      }
      return json({
        access_token: 'fake-access-token',
        token_type: 'Bearer',
        expires_in: 300,
        id_token: await sign(claims, id),
      })
    }
    return json({ error: 'not_found' }, 404)
  },
}
