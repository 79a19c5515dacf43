/**
 * Redirect URIs: which may be registered, and whether an authorization request's matches.
 *
 * Registered (RFC 7591 §2, RFC 8252 §7, RFC 9700 §4.1.3): `https`; `http` only on a loopback
 * host (127.0.0.1, [::1], localhost); or a private-use scheme in reverse-domain form for native
 * apps (RFC 8252 §7.1, e.g. `com.example.app:/cb`), which by needing a dot can never be
 * `javascript:`, `data:`, `file:`, `vbscript:` or `blob:`. Never a fragment (RFC 6749 §3.1.2) or
 * userinfo. The seeded web client alone has the relative `/`: the issuer's origin + `/`.
 *
 * Accepted only in canonical form, as `new URL(uri).href` writes it (docs/security.md; RFC 3986
 * §6.2.2): a browser follows `https:evil.example`, `https:///cb` or a URI with a backslash
 * (`https:\\evil.example`, `https://evil.example\@app.example/`) somewhere other than where a
 * reader of the registry would think, while matching (below) compares strings exactly (RFC 9700
 * §4.1.3). So `https://app.example` is registered as `https://app.example/`: lower-case scheme
 * and host, no default port, no `.` or `..` segments.
 *
 * Matching is exact string comparison, except that a loopback `http` redirect may use any port
 * (RFC 8252 §7.3): scheme, host, path and query must still be the same.
 */

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost'])
const PRIVATE_USE = /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:/
export const MAX_REDIRECT_URI = 2000

const parse = (raw: string): URL | null => {
  try {
    return new URL(raw)
  } catch {
    return null
  }
}

/** Why a redirect URI may not be registered, or null when it may. */
export function redirectUriProblem(raw: string): string | null {
  if (raw.length > MAX_REDIRECT_URI) return `At most ${MAX_REDIRECT_URI} characters.`
  if (/[\s\p{Cc}]/u.test(raw)) return 'Must not contain spaces or control characters.'
  if (raw.includes('#')) return 'Must not contain a fragment.'
  if (raw.includes('\\')) return 'Must not contain a backslash.'
  const url = parse(raw)
  if (!url) return 'Must be an absolute URI.'
  if (url.username || url.password) return 'Must not contain userinfo.'
  // The scheme as written, lowercased: URL() lowercases it too, so "JaVaScRiPt:" is caught here.
  const scheme = url.protocol.slice(0, -1)
  if (scheme === 'https') return url.hostname ? canonicalProblem(raw, url) : 'Must name a host.'
  if (scheme === 'http')
    return LOOPBACK.has(url.hostname)
      ? canonicalProblem(raw, url)
      : 'http is only allowed on a loopback host.'
  return PRIVATE_USE.test(raw.toLowerCase())
    ? canonicalProblem(raw, url)
    : 'Must be https, loopback http, or a reverse-domain private-use scheme (com.example.app:/cb).'
}

/** Why `raw` is not written as `url.href`, naming the canonical form; null when it is. */
function canonicalProblem(raw: string, url: URL): string | null {
  const special = url.protocol === 'https:' || url.protocol === 'http:'
  if (special && !raw.toLowerCase().startsWith(`${url.protocol}//`))
    return `Must start with ${url.protocol}// (canonical form: ${url.href}).`
  if (raw === url.href) return null
  return `Must be written in canonical form: ${url.href}`
}

const isLoopbackHttp = (url: URL | null): url is URL =>
  url !== null && url.protocol === 'http:' && LOOPBACK.has(url.hostname)

/** The registered value as it applies on this issuer: "/" is the issuer's own origin + "/". */
const resolved = (registered: string, issuer: string) =>
  registered.startsWith('/') ? new URL(registered, issuer).href : registered

/**
 * The redirect URI an authorization request goes back to: the one it names if registered, or
 * the client's only one when it names none (RFC 6749 §3.1.2.3). Null when none applies.
 */
export function matchRedirectUri(
  registered: readonly string[],
  asked: string | undefined,
  issuer: string,
): string | null {
  const uris = registered.map((r) => resolved(r, issuer))
  if (asked === undefined) return uris.length === 1 ? uris[0]! : null
  if (uris.includes(asked)) return asked
  const url = parse(asked)
  if (!isLoopbackHttp(url) || url.username || url.password || asked.includes('#')) return null
  const same = uris.some((r) => {
    const reg = parse(r)
    return (
      isLoopbackHttp(reg) &&
      reg.hostname === url.hostname &&
      reg.pathname === url.pathname &&
      reg.search === url.search
    )
  })
  return same ? asked : null
}

/** `uri` with these parameters added to its query (RFC 6749 §4.1.2: keep its own query). */
export function withParams(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri)
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.append(name, value)
  return url.href
}

/** The CSP form-action source that lets a form's redirect reach `uri` (Chromium checks it). */
export function formActionSource(uri: string): string {
  const url = new URL(uri)
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol
}

/** Where a redirect URI sends the person: what the login and consent pages show of it. */
export type RedirectTarget =
  | { kind: 'web'; host: string }
  | { kind: 'native'; scheme: string }
  | { kind: 'device' }

/**
 * A web app's host (IDNs in their `xn--` form, so no lookalike letters), a native app's private-use
 * scheme (RFC 8252 §7.1), or an app on this device (loopback, RFC 8252 §7.3), for a resolved
 * redirect URI. Unlike `client_name`, which the client chose (RFC 7591 §5), this is where the
 * code goes.
 */
export function redirectTarget(uri: string): RedirectTarget {
  const url = new URL(uri)
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return { kind: 'device' }
  if (url.protocol === 'https:' || url.protocol === 'http:') return { kind: 'web', host: url.host }
  return { kind: 'native', scheme: url.protocol.slice(0, -1) }
}
