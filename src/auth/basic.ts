import type { MiddlewareHandler } from 'hono'
import { basicAuth } from 'hono/basic-auth'
import { HTTPException } from 'hono/http-exception'
import { config } from '../config'
import { toUser } from '../db/users'
import { ApiError, incorrectCredentials } from '../domain/errors'
import type { AppEnv } from '../http/context'
import { primaryDatabase } from '../http/database'
import { documentGuard } from '../http/openapi'
import { BASIC_CHALLENGE, REALM } from './challenges'
import { checkRemembered } from './login'

/**
 * HTTP Basic against the users table, through hono's basicAuth. Hono parses the header and calls
 * verifyUser; its 401 is replaced by ours: `unauthorized` when no usable credentials came,
 * `invalid_credentials` when they were checked and refused, both with the contract's challenge.
 * A lockout's 429 passes through without a challenge: retrying with other credentials cannot help.
 * Verified credentials are remembered for up to a minute (see checkRemembered).
 *
 * hono decodes the credentials lossily (an invalid UTF-8 byte becomes U+FFFD, so a password
 * holding U+FFFD would match many byte strings): credentials that are not valid UTF-8 are refused
 * here first, as `invalid_credentials`, and never compared.
 */
export function basic(): MiddlewareHandler<AppEnv> {
  const guard: MiddlewareHandler<AppEnv> = async (c, next) => {
    let checked = false
    if (!basicCredentialsAreUtf8(c.req.header('Authorization'))) {
      throw incorrectCredentials('invalid_credentials', BASIC_CHALLENGE)
    }
    const check = basicAuth({
      realm: REALM,
      verifyUser: async (username, password, ctx) => {
        checked = true
        const db = primaryDatabase(ctx)
        const credentials = { username, password }
        const row = await checkRemembered(db, config(ctx.env), ctx.get('requester'), credentials)
        if (!row) return false
        const user = toUser(row)
        ctx.set('user', user)
        ctx.set('scopes', user.scopes)
        return true
      },
    })
    try {
      await check(c, async () => {})
    } catch (err) {
      if (!(err instanceof HTTPException) || err.status !== 401) throw err
      throw checked
        ? incorrectCredentials('invalid_credentials', BASIC_CHALLENGE)
        : new ApiError('unauthorized', 'HTTP Basic credentials are required.', {
            headers: BASIC_CHALLENGE,
          })
    }
    await next()
  }
  return documentGuard(guard, { auth: 'basic' })
}

// The pattern hono's Basic parser matches; anything else it refuses as "no credentials" itself.
const BASIC_CREDENTIALS = /^ *(?:[Bb][Aa][Ss][Ii][Cc]) +([A-Za-z0-9._~+/-]+=*) *$/
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** False for Basic credentials whose base64 decodes to bytes that are not UTF-8. */
function basicCredentialsAreUtf8(header: string | undefined): boolean {
  const encoded = BASIC_CREDENTIALS.exec(header ?? '')?.[1]
  if (encoded === undefined) return true
  let bytes: Uint8Array
  try {
    bytes = Uint8Array.from(atob(encoded), (ch) => ch.charCodeAt(0))
  } catch {
    return true // not base64: hono answers `unauthorized`
  }
  try {
    strictUtf8.decode(bytes)
    return true
  } catch {
    return false
  }
}
