import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addressKey, escapeControls, requesterOf, USER_AGENT_MAX } from '../../src/domain/requester'

describe('the throttling key of a client address', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['192.000.002.010', '192.0.2.10'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:c000:0201', '192.0.2.1'],
    ['0:0:0:0:0:ffff:192.0.2.1', '192.0.2.1'],
  ])('keys %s as %s', (address, key) => {
    expect(addressKey(address)).toBe(key)
  })

  it.each([
    ['Not-An-IP', 'not-an-ip'],
    ['1::2::3', '1::2::3'],
    ['1:2:3:4:5:6:7:8::9::', '1:2:3:4:5:6:7:8::9::'],
    ['1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8:9'],
    ['1:2:3:4:5:6:7:8::', '1:2:3:4:5:6:7:8::'],
    ['1:2:3:4:5:6:7', '1:2:3:4:5:6:7'],
    ['12345::1', '12345::1'],
    ['::ffff:300.1.1.1', '::ffff:300.1.1.1'],
    ['::ffff:1.2.3', '::ffff:1.2.3'],
  ])('keys %s, which is no address, as itself', (address, key) => {
    expect(addressKey(address)).toBe(key)
  })

  const group = fc.integer({ min: 0, max: 0xffff })
  // Not ::ffff:0:0/96, which is an IPv4 address.
  const ipv6 = fc
    .array(group, { minLength: 8, maxLength: 8 })
    .filter((g) => !(g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff))
  const hex = (x: number) => x.toString(16)
  const full = (g: number[]) => g.map(hex).join(':')
  const padded = (g: number[]) =>
    g.map((x) => x.toString(16).padStart(4, '0').toUpperCase()).join(':')
  // The URL parser writes an IPv6 host in its canonical, zero-compressed form (RFC 5952).
  const compressed = (g: number[]) => new URL(`http://[${full(g)}]/`).hostname.slice(1, -1)

  it('gives every spelling of one IPv6 address one key, its first 64 bits', () => {
    fc.assert(
      fc.property(ipv6, (g) => {
        const key = `${g.slice(0, 4).map(hex).join(':')}::/64`
        for (const spelling of [full(g), padded(g), compressed(g)])
          expect(addressKey(spelling)).toBe(key)
      }),
    )
  })

  it('gives two IPv6 addresses one key exactly when their /64 is the same', () => {
    fc.assert(
      fc.property(ipv6, ipv6, (a, b) => {
        const same = a.slice(0, 4).join() === b.slice(0, 4).join()
        expect(addressKey(compressed(a)) === addressKey(compressed(b))).toBe(same)
      }),
    )
  })

  it('keys an IPv4 address and its IPv4-mapped IPv6 spellings alike', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(addressKey(ip)).toBe(ip)
        expect(addressKey(`::ffff:${ip}`)).toBe(ip)
        expect(addressKey(new URL(`http://[::ffff:${ip}]/`).hostname.slice(1, -1))).toBe(ip)
      }),
    )
  })
})

/** The inverse of escapeControls, to show that the escaped text reads back unambiguously. */
const readBack = (s: string) =>
  s.replace(/\\(\\|x([0-9a-f]{2})|u\{([0-9a-f]+)\})/g, (_, all, x, u) =>
    all === '\\' ? '\\' : String.fromCodePoint(Number.parseInt(x ?? u, 16)),
  )

describe('escaping what a terminal or log viewer would act on', () => {
  it.each([
    ['an escape sequence', 'a\u001b[2Jb', 'a\\x1b[2Jb'],
    ['a bell, a tab and a newline', '\u0007\t\n', '\\x07\\x09\\x0a'],
    ['DEL and a C1 control', '\u007f\u0085', '\\x7f\\x85'],
    ['a right-to-left override', 'a\u202ebc', 'a\\u{202e}bc'],
    [
      'bidirectional marks and isolates',
      '\u200e\u200f\u2066\u2069',
      '\\u{200e}\\u{200f}\\u{2066}\\u{2069}',
    ],
    ['a backslash', 'C:\\x1b', 'C:\\\\x1b'],
  ])('escapes %s', (_, raw, escaped) => {
    expect(escapeControls(raw)).toBe(escaped)
  })

  it('leaves printable text alone, accents, scripts and emoji included', () => {
    const text = 'Mozilla/5.0 (X11) café 日本語 עברית 🦊'
    expect(escapeControls(text)).toBe(text)
  })

  it('reads back to exactly what was sent', () => {
    const tricky = fc
      .array(fc.constantFrom('\\', 'x', '1', 'b', 'u', '{', '}', '\u001b', '\u202e', 'é', ' '))
      .map((chars) => chars.join(''))
    fc.assert(
      fc.property(fc.oneof(tricky, fc.string({ unit: 'binary' })), (s) => {
        const escaped = escapeControls(s)
        expect(escaped).not.toMatch(/[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/u)
        expect(readBack(escaped)).toBe(s)
      }),
    )
  })
})

describe('who sent a request', () => {
  const of = (headers: Record<string, string>) => requesterOf(new Headers(headers), '/auth/token')

  it('reads the address from CF-Connecting-IP only, never X-Forwarded-For', () => {
    expect(of({ 'CF-Connecting-IP': ' 192.0.2.1 ' })).toEqual({
      address: '192.0.2.1',
      userAgent: null,
      path: '/auth/token',
    })
    expect(of({ 'X-Forwarded-For': '192.0.2.9' }).address).toBeNull()
    expect(of({ 'CF-Connecting-IP': '   ' }).address).toBeNull()
  })

  it('keeps the longest spelling of an address whole, and clips a header longer than any', () => {
    const longest = '0000:0000:0000:0000:0000:ffff:255.255.255.255'
    expect(of({ 'CF-Connecting-IP': longest }).address).toBe(longest)
    expect(of({ 'CF-Connecting-IP': '1'.repeat(10_000) }).address!.length).toBeLessThanOrEqual(64)
  })

  it(`escapes the User-Agent, then clips it to ${USER_AGENT_MAX} characters`, () => {
    expect(of({ 'User-Agent': 'curl\u001b[2J' }).userAgent).toBe('curl\\x1b[2J')
    expect(of({ 'User-Agent': '\u001b'.repeat(USER_AGENT_MAX) }).userAgent).toBe(
      '\\x1b'.repeat(USER_AGENT_MAX / 4),
    )
    expect(of({ 'User-Agent': 'a'.repeat(10_000) }).userAgent).toBe('a'.repeat(USER_AGENT_MAX))
    expect(of({ 'User-Agent': '' }).userAgent).toBe('')
  })
})
