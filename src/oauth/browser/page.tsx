import type { Context } from 'hono'
import { issuerFor } from '../../auth/tokens'
import { config } from '../../config'
import { formActionSource } from '../../domain/redirect-uris'
import type { AppEnv } from '../../http/context'
import { ErrorPage } from './error-page'

/**
 * What every page of the authorization server shares (the authorization endpoint, the device
 * page, federation's returns): the CSP, the error page, the same-origin rule for forms, and the
 * issuer every redirect names.
 */

/**
 * The pages' CSP: nothing but our stylesheet; forms (and their redirects) to us and the app. A
 * page with a passkey form (`script`) also runs our own scripts, and only those: no inline
 * script, no eval, nothing fetched (the script submits a form).
 */
export function pageHeaders(c: Context<AppEnv>, redirectUri?: string, script = false) {
  const formAction = ["'self'", ...(redirectUri ? [formActionSource(redirectUri)] : [])]
  c.header(
    'Content-Security-Policy',
    `default-src 'none'; ${script ? "script-src 'self'; " : ''}style-src 'self'; ` +
      `img-src 'self'; form-action ${formAction.join(' ')}; frame-ancestors 'none'; ` +
      "base-uri 'none'",
  )
}

/** The HTML error page, with the pages' CSP. */
export function errorPage(c: Context<AppEnv>, status: 400 | 403, message: string) {
  pageHeaders(c)
  return c.html(<ErrorPage message={message} />, status)
}

/**
 * The `iss` of every redirect back to the app (RFC 9207): the configured ISSUER. Each handler
 * asks for it before anything else, so a server without one (a 500) signs no one in and
 * issues no code.
 */
export const issuer = (c: Context<AppEnv>) => issuerFor(config(c.env), c.req.url)

/** Forms must come from our own origin: Origin, or Sec-Fetch-Site where Origin is withheld. */
export function sameOrigin(c: Context<AppEnv>): boolean {
  const origin = c.req.header('Origin')
  if (origin && origin !== 'null') return origin === new URL(c.req.url).origin
  return c.req.header('Sec-Fetch-Site') === 'same-origin'
}

export const STALE =
  'This form has expired or was not issued to this browser. Go back to the app and sign in again.'
