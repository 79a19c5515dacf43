/**
 * The domain of an email address an upstream provider vouches for, for `allowed_domains`, or null
 * when the string is not one plain address (docs/security.md: `a@evil.test@corp.example` is not an
 * address of corp.example). Strict on purpose, since an address that is refused only cannot create
 * an account: exactly one `@`; a local part that is an RFC 5321 §4.1.2 Dot-string (atoms of RFC
 * 5322 §3.2.3 atext joined by single dots), at most 64 octets (RFC 5321 §4.5.3.1.1); a domain of at
 * least two host name labels (RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1: letters, digits and
 * inner hyphens, 1–63 each), at most 253 octets; the whole at most 254 (RFC 5321 §4.5.3.1.3 less
 * the angle brackets). No quoted local part, no address literal, no comments, no trailing dot,
 * ASCII only (an internationalised domain arrives as its A-labels, `xn--…`). The domain comes back
 * in lower case: domains are case-insensitive (RFC 4343 §3).
 */
const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
const LOCAL_PART = new RegExp(`^${ATOM}(?:\\.${ATOM})*$`)
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

export function emailDomain(email: string | undefined): string | null {
  if (email === undefined || email.length > 254) return null
  const at = email.indexOf('@')
  if (at < 0 || at !== email.lastIndexOf('@')) return null
  const local = email.slice(0, at)
  const domain = email.slice(at + 1)
  if (local.length > 64 || !LOCAL_PART.test(local)) return null
  const labels = domain.split('.')
  if (domain.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l))) return null
  return domain.toLowerCase()
}
