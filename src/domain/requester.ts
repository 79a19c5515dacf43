/**
 * Who sent a request, read once per request (src/app.ts) and handed to domain
 * and database code as plain data: the throttle and the audit trail never see a hono Context.
 */
export type Requester = {
  /**
   * From CF-Connecting-IP, which Cloudflare's edge sets, and `wrangler dev` too (the loopback
   * address it was reached on, under `npm run dev`): see `fromThisMachine`. Null without it: a
   * request that came through neither, such as the test pool's.
   */
  address: string | null
  /** The User-Agent with control characters escaped, at most USER_AGENT_MAX characters. */
  userAgent: string | null
  /** The request path, e.g. `/auth/token`: the audit trail's detail for a password check. */
  path: string
}

// An address is at most 45 characters; a longer header is not from the edge, and must not grow
// the keys and rows made from it.
const ADDRESS_MAX = 64
export const USER_AGENT_MAX = 256

// C0 and C1 controls (escape sequences, bells, backspaces) and the bidirectional overrides that
// reorder what a terminal or a log viewer shows. A backslash is escaped too, so that the stored
// text reads back unambiguously.
const UNSAFE = /[\\\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu

/** `\x1b` for an escape character, `\u{202e}` for a bidirectional override, `\\` for `\`. */
export const escapeControls = (s: string): string =>
  s.replace(UNSAFE, (ch) => {
    const code = ch.codePointAt(0)!
    if (ch === '\\') return '\\\\'
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`
  })

export function requesterOf(headers: Headers, path: string): Requester {
  const userAgent = headers.get('User-Agent')
  return {
    address: headers.get('CF-Connecting-IP')?.trim().slice(0, ADDRESS_MAX) || null,
    userAgent: userAgent === null ? null : escapeControls(userAgent).slice(0, USER_AGENT_MAX),
    path,
  }
}

/**
 * Whether the request came from this machine: a loopback address (127.0.0.0/8, ::1, or either
 * IPv4-mapped), which `wrangler dev` sets when reached on one and Cloudflare's edge never sets.
 */
export function fromThisMachine(requester: Requester): boolean {
  if (!requester.address) return false
  const a = requester.address.toLowerCase()
  if (/^127(\.\d{1,3}){3}$/.test(addressKey(a))) return true
  const groups = ipv6Groups(a.replace(/%.*$/, ''))
  return groups?.join(':') === '0:0:0:0:0:0:0:1'
}

/**
 * The throttling key of an address: an IPv4 address whole, an IPv6 address by its /64 — one host
 * is routinely given a whole /64, so its 2^64 addresses are one client. IPv4-mapped IPv6
 * (`::ffff:192.0.2.1`) is its IPv4 address; zero-compressed, zero-padded and upper-case spellings
 * of one address give one key. Anything else (not from the edge) is its own key, as sent.
 */
export function addressKey(address: string): string {
  const a = address.toLowerCase()
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(a)) return a.split('.').map(Number).join('.')
  const groups = ipv6Groups(a.replace(/%.*$/, ''))
  if (!groups) return a
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.')
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`
}

/**
 * Where a request came from, as the account page shows it (migrations/0010_passkeys.sql): the
 * network rather than the host, an IPv4 address by its /24 (`198.51.100.0/24`), an IPv6 address
 * by its /48 (`2001:db8:1::/48`), IPv4-mapped IPv6 as IPv4. Enough to tell a session from home
 * from one elsewhere, and less to keep about a person than the address. Null for anything else.
 */
export function addressPrefix(address: string | null): string | null {
  if (!address) return null
  const key = addressKey(address)
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(key)) return `${key.replace(/\.\d+$/, '.0')}/24`
  const groups = ipv6Groups(address.toLowerCase().replace(/%.*$/, ''))
  if (!groups) return null
  const network = groups.slice(0, 3).map((g) => g.toString(16))
  return `${network.join(':')}::/48`
}

/** The eight 16-bit groups of an IPv6 address (`::` and a dotted IPv4 tail allowed), or null. */
function ipv6Groups(a: string): number[] | null {
  const halves = a.split('::')
  if (halves.length > 2) return null
  const parse = (part: string): number[] | null => {
    if (part === '') return []
    const out: number[] = []
    const pieces = part.split(':')
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = piece.split('.')
        if (v4.length !== 4 || !v4.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255))
          return null
        const [b0, b1, b2, b3] = v4.map(Number) as [number, number, number, number]
        out.push((b0 << 8) | b1, (b2 << 8) | b3)
      } else if (/^[0-9a-f]{1,4}$/.test(piece)) out.push(Number.parseInt(piece, 16))
      else return null
    }
    return out
  }
  const head = parse(halves[0]!)
  const tail = halves.length === 2 ? parse(halves[1]!) : []
  if (!head || !tail) return null
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null
  return [...head, ...Array<number>(missing).fill(0), ...tail]
}
