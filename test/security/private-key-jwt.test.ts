import { describe, expect, it } from 'vitest'
import {
  assertion,
  assertionFields,
  clientIdUrl,
  keyPair,
  metadataDocument,
  publishedClient,
  serve,
  unsignedAssertion,
} from '../client-metadata'
import { call, form } from '../helpers'
import { authorizeUrl, makeClient } from '../oauth-client'

// private_key_jwt (RFC 7523 §2.2, §3; RFC 7521 §4.2) for Client ID Metadata Document clients:
// every way an assertion can be wrong is 401 invalid_client naming what is wrong. A refresh
// request with a made-up refresh token is the probe: an accepted assertion gets to the grant,
// which answers 400 invalid_grant; a refused one never gets past client authentication.

async function signedClient(alg: 'ES256' | 'RS256' = 'ES256') {
  const { privateKey, publicJwk } = await keyPair(alg)
  const url = await publishedClient({
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [publicJwk] },
  })
  // The authorization endpoint stores the client (the token endpoint never fetches a new one).
  expect((await call(await authorizeUrl(url))).status).toBe(200)
  return { url, privateKey, publicJwk }
}

const probe = (fields: Record<string, string>, path = '/auth/token') =>
  call(
    path,
    form(
      path === '/auth/token'
        ? { grant_type: 'refresh_token', refresh_token: 'not-a-real-token', ...fields }
        : { token: 'not-a-real-token', ...fields },
    ),
  )

async function expectRefused(res: Response, reason: string) {
  expect(res.status).toBe(401)
  expect(await res.json()).toMatchObject({
    error: 'invalid_client',
    error_description: expect.stringContaining(reason),
  })
}

async function expectAccepted(res: Response) {
  expect(res.status).toBe(400)
  expect(await res.json()).toMatchObject({ error: 'invalid_grant' })
}

describe('client assertions that are accepted', () => {
  it('accepts a fresh ES256 or RS256 assertion for the issuer or the token endpoint', async () => {
    for (const alg of ['ES256', 'RS256'] as const) {
      const { url, privateKey } = await signedClient(alg)
      await expectAccepted(await probe(assertionFields(await assertion(privateKey, url))))
      const aud = 'https://todo.test/auth/token'
      await expectAccepted(await probe(assertionFields(await assertion(privateKey, url, { aud }))))
      const both = { aud: ['https://elsewhere.example', 'https://todo.test'] }
      await expectAccepted(await probe(assertionFields(await assertion(privateKey, url, both))))
    }
  })
})

describe('client assertions that are refused', () => {
  it('refuses a replayed jti, also when two requests race with it', async () => {
    const { url, privateKey } = await signedClient()
    const jwt = await assertion(privateKey, url)
    await expectAccepted(await probe(assertionFields(jwt)))
    await expectRefused(await probe(assertionFields(jwt)), 'jti replayed')
    // Revocation authenticates the same way: the used assertion is refused there too.
    await expectRefused(await probe(assertionFields(jwt), '/auth/revoke'), 'jti replayed')

    const racing = await assertion(privateKey, url)
    const answers = await Promise.all([
      probe(assertionFields(racing)),
      probe(assertionFields(racing)),
      probe(assertionFields(racing)),
    ])
    expect(answers.map((r) => r.status).sort()).toEqual([400, 401, 401])
  })

  it('refuses the wrong audience', async () => {
    const { url, privateKey } = await signedClient()
    for (const aud of ['https://other-server.example', 'https://todo.test/auth/revoke', 42]) {
      const jwt = await assertion(privateKey, url, { aud })
      await expectRefused(await probe(assertionFields(jwt)), 'aud is neither')
    }
  })

  it('refuses an expired assertion, one valid too long, and one without exp', async () => {
    const { url, privateKey } = await signedClient()
    const now = Math.floor(Date.now() / 1000)
    const cases: [Record<string, unknown>, string][] = [
      [{ exp: now - 120 }, 'expired'],
      [{ exp: now + 3600 }, 'exp too far ahead'],
      [{ exp: undefined }, 'no exp'],
      [{ exp: String(now + 60) }, 'no exp'],
      [{ iat: now + 600 }, 'iat in the future'],
      [{ nbf: now + 600 }, 'nbf in the future'],
    ]
    for (const [claims, reason] of cases)
      await expectRefused(
        await probe(assertionFields(await assertion(privateKey, url, claims))),
        reason,
      )
  })

  it('refuses a bad signature: another key, a changed payload, an unknown kid', async () => {
    const { url } = await signedClient()
    const stranger = await keyPair('ES256')
    await expectRefused(
      await probe(assertionFields(await assertion(stranger.privateKey, url))),
      'bad signature',
    )
    const { privateKey } = await signedClient()
    const other = await signedClient()
    const jwt = await assertion(other.privateKey, other.url)
    // Its signature over another client's claims.
    const swapped = (await assertion(privateKey, url)).split('.')
    const forged = [swapped[0], jwt.split('.')[1], swapped[2]].join('.')
    await expectRefused(await probe(assertionFields(forged)), 'bad signature')
    await expectRefused(
      await probe(assertionFields(await assertion(privateKey, url, {}, { kid: 'k2' }))),
      'no key of the document matches',
    )
  })

  it('refuses alg none, HS256 (even keyed with the public key) and an alg its key is not', async () => {
    const { url, publicJwk } = await signedClient()
    await expectRefused(
      await probe(assertionFields(await unsignedAssertion(url, 'none'))),
      'alg none refused',
    )
    await expectRefused(
      await probe(assertionFields(await unsignedAssertion(url, 'HS256'))),
      'alg HS256 refused',
    )
    // Algorithm confusion: the public key, which anyone can read, as an HMAC secret.
    const confused = await unsignedAssertion(url, 'HS256', JSON.stringify(publicJwk))
    await expectRefused(await probe(assertionFields(confused)), 'alg HS256 refused')
    const rsa = await keyPair('RS256')
    await expectRefused(
      await probe(assertionFields(await assertion(rsa.privateKey, url))),
      'no key of the document matches',
    )
  })

  it('refuses iss or sub other than the client, and a client_id that is not the sub', async () => {
    const { url, privateKey } = await signedClient()
    const other = clientIdUrl()
    await expectRefused(
      await probe(assertionFields(await assertion(privateKey, url, { iss: other }))),
      'iss and sub must be the client_id',
    )
    await expectRefused(
      await probe({ client_id: other, ...assertionFields(await assertion(privateKey, url)) }),
      'client_id is not the client assertion',
    )
  })

  it('refuses a non-canonical encoding and a missing jti', async () => {
    const { url, privateKey } = await signedClient()
    const jwt = await assertion(privateKey, url)
    await expectRefused(await probe(assertionFields(`${jwt}=`)), 'canonical compact form')
    await expectRefused(
      await probe(assertionFields(await assertion(privateKey, url, { jti: undefined }))),
      'no usable jti',
    )
  })

  it('refuses an assertion for a public (none) metadata client and for a registry client', async () => {
    const { privateKey } = await keyPair()
    const publicUrl = await publishedClient()
    expect((await call(await authorizeUrl(publicUrl))).status).toBe(200)
    await expectRefused(
      await probe(assertionFields(await assertion(privateKey, publicUrl))),
      'does not say private_key_jwt',
    )
    const { client } = await makeClient()
    await expectRefused(
      await probe(assertionFields(await assertion(privateKey, client.client_id))),
      'only Client ID Metadata Document clients',
    )
  })

  it('refuses mixing methods and half an assertion (invalid_request), and another type', async () => {
    const { url, privateKey } = await signedClient()
    const jwt = await assertion(privateKey, url)
    const mixed = await probe({ ...assertionFields(jwt), client_secret: 'x' })
    expect(mixed.status).toBe(400)
    expect(await mixed.json()).toMatchObject({ error: 'invalid_request' })
    const half = await probe({ client_assertion: jwt })
    expect(half.status).toBe(400)
    await expectRefused(
      await probe({ client_assertion_type: 'urn:example:saml', client_assertion: jwt }),
      'client_assertion_type must be',
    )
  })
})

describe('introspection', () => {
  it('stays closed to a metadata-document client, even with a valid assertion', async () => {
    const { url, privateKey } = await signedClient()
    const res = await probe(assertionFields(await assertion(privateKey, url)), '/auth/introspect')
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: 'invalid_client' })
  })
})

describe('documents whose keys are refused', () => {
  it('refuses an RSA key under 2048 bits and a document with both jwks and jwks_uri', async () => {
    const weak = (await crypto.subtle.generateKey(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 1024,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      true,
      ['sign', 'verify'],
    )) as CryptoKeyPair
    const { kty, n, e } = (await crypto.subtle.exportKey('jwk', weak.publicKey)) as JsonWebKey
    const url = clientIdUrl()
    await serve(url, {
      body: metadataDocument(url, {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ kty, n, e, kid: 'k1' }] },
      }),
    })
    const res = await call(await authorizeUrl(url))
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('RS256 (at least 2048 bits)')

    const { publicJwk } = await keyPair()
    const both = clientIdUrl()
    await serve(both, {
      body: metadataDocument(both, {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [publicJwk] },
        jwks_uri: 'https://keys.example/jwks.json',
      }),
    })
    const twice = await call(await authorizeUrl(both))
    expect(twice.status).toBe(400)
    expect(await twice.text()).toContain('exactly one of jwks and jwks_uri')
  })
})
