import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  formActionSource,
  MAX_REDIRECT_URI,
  matchRedirectUri,
  redirectUriProblem,
  withParams,
} from '../../src/domain/redirect-uris'

const ISSUER = 'https://todo.test'

describe('which redirect URIs may be registered', () => {
  it.each([
    'https://app.example/cb',
    'https://app.example:8443/cb?tenant=1',
    'http://127.0.0.1/cb',
    'http://127.0.0.1:8080/cb',
    'http://[::1]:3000/cb',
    'http://localhost/cb',
    'com.example.app:/cb',
  ])('accepts %s', (uri) => {
    expect(redirectUriProblem(uri)).toBeNull()
  })

  it.each([
    ['a fragment', 'https://app.example/cb#x', /fragment/],
    ['an empty fragment', 'https://app.example/cb#', /fragment/],
    ['userinfo', 'https://alice@app.example/cb', /userinfo/],
    ['a password in userinfo', 'https://:pw@app.example/cb', /userinfo/],
    ['a relative path', '/cb', /absolute/],
    ['a space', 'https://app.example/a b', /spaces/],
    ['a control character', 'https://app.example/\u0007', /control/],
    ['http on a public host', 'http://app.example/cb', /loopback/],
    ['http on a host named like loopback', 'http://localhost.evil.example/cb', /loopback/],
    ['http on another 127/8 address', 'http://127.0.0.2/cb', /loopback/],
    ['a private-use scheme without a dot', 'myapp:/cb', /reverse-domain/],
    [
      'an upper-case scheme and host',
      'HTTP://LOCALHOST/cb',
      /canonical form: http:\/\/localhost\/cb/,
    ],
    ['an upper-case private-use scheme', 'Com.Example.App:/oauth2redirect', /canonical/],
    ['no path on an https host', 'https://app.example', /canonical form: https:\/\/app\.example\//],
    ['a backslash', 'https://evil.example\\@app.example/cb', /./],
    ['no authority', 'https:evil.example', /./],
    ['an empty authority', 'https:///cb', /./],
  ])('refuses a redirect URI with %s', (_, uri, problem) => {
    expect(redirectUriProblem(uri)).toMatch(problem)
  })

  it.each([
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'file:///etc/passwd',
    'vbscript:msgbox(1)',
    'blob:https://app.example/0b5c',
  ])('refuses the script-capable or local scheme of %s', (uri) => {
    expect(redirectUriProblem(uri)).toMatch(/reverse-domain/)
  })

  it(`accepts ${MAX_REDIRECT_URI} characters and refuses one more`, () => {
    const base = 'https://app.example/'
    const at = base + 'a'.repeat(MAX_REDIRECT_URI - base.length)
    expect(redirectUriProblem(at)).toBeNull()
    expect(redirectUriProblem(`${at}a`)).toMatch(/At most/)
  })

  it('accepts any canonical https URL without userinfo or fragment, refuses it with a fragment', () => {
    fc.assert(
      fc.property(fc.webUrl({ validSchemes: ['https'], withQueryParameters: true }), (raw) => {
        const url = new URL(raw).href
        expect(redirectUriProblem(url)).toBeNull()
        expect(redirectUriProblem(`${url}#f`)).toMatch(/fragment/)
      }),
    )
  })
})

describe('matching an authorization request to a registered redirect URI', () => {
  const cb = 'https://app.example/cb'

  it('matches an exactly registered URI and nothing near it', () => {
    const registered = [cb, 'https://app.example/other']
    expect(matchRedirectUri(registered, cb, ISSUER)).toBe(cb)
    for (const near of [
      `${cb}/`,
      `${cb}/x`,
      `${cb}?x=1`,
      'https://app.example/CB',
      'https://APP.example/cb',
      'https://app.example:443/cb',
      'http://app.example/cb',
      'https://app.example.evil.test/cb',
    ])
      expect(matchRedirectUri(registered, near, ISSUER), near).toBeNull()
  })

  it('falls back to the only registered URI, and refuses to choose between two', () => {
    expect(matchRedirectUri([cb], undefined, ISSUER)).toBe(cb)
    expect(matchRedirectUri([cb, `${cb}2`], undefined, ISSUER)).toBeNull()
    expect(matchRedirectUri([], undefined, ISSUER)).toBeNull()
  })

  it("reads the web client's relative '/' as the issuer's own origin", () => {
    expect(matchRedirectUri(['/'], undefined, ISSUER)).toBe('https://todo.test/')
    expect(matchRedirectUri(['/'], 'https://todo.test/', ISSUER)).toBe('https://todo.test/')
    expect(matchRedirectUri(['/'], '/', ISSUER)).toBeNull()
    expect(matchRedirectUri(['/'], 'https://other.test/', ISSUER)).toBeNull()
  })

  it('lets a loopback http redirect use any port (RFC 8252 §7.3)', () => {
    for (const reg of ['http://127.0.0.1/cb', 'http://127.0.0.1:8080/cb']) {
      const asked = 'http://127.0.0.1:51234/cb'
      expect(matchRedirectUri([reg], asked, ISSUER)).toBe(asked)
    }
    const v6 = 'http://[::1]:9/cb?x=1'
    expect(matchRedirectUri(['http://[::1]/cb?x=1'], v6, ISSUER)).toBe(v6)
  })

  it('keeps scheme, host, path and query exact for a loopback redirect on another port', () => {
    const reg = ['http://127.0.0.1:8080/cb?x=1']
    for (const asked of [
      'http://127.0.0.1:9/other?x=1',
      'http://127.0.0.1:9/cb?x=2',
      'http://127.0.0.1:9/cb',
      'http://localhost:9/cb?x=1',
      'http://[::1]:9/cb?x=1',
      'https://127.0.0.1:9/cb?x=1',
      'http://evil@127.0.0.1:9/cb?x=1',
      'http://127.0.0.1:9/cb?x=1#frag',
    ])
      expect(matchRedirectUri(reg, asked, ISSUER), asked).toBeNull()
  })

  it('gives no port freedom to https on a loopback host', () => {
    const asked = 'https://127.0.0.1:8443/cb'
    expect(matchRedirectUri(['https://127.0.0.1/cb'], asked, ISSUER)).toBeNull()
  })

  it('never answers a URI on a host that was not registered', () => {
    const host = fc.constantFrom('127.0.0.1', '[::1]', 'localhost', 'app.example', 'evil.test')
    const uri = fc
      .record({
        scheme: fc.constantFrom('http', 'https'),
        host,
        port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        path: fc.constantFrom('/', '/cb', '/cb/x'),
      })
      .map(({ scheme, host, port, path }) => `${scheme}://${host}${port ? `:${port}` : ''}${path}`)
    fc.assert(
      fc.property(
        fc.array(uri, { maxLength: 3 }),
        fc.option(uri, { nil: undefined }),
        (reg, asked) => {
          const match = matchRedirectUri(reg, asked, ISSUER)
          if (match === null) return
          expect(asked === undefined ? reg : [asked]).toContain(match)
          const hosts = reg.map((r) => new URL(r).hostname)
          expect(hosts).toContain(new URL(match).hostname)
        },
      ),
    )
  })
})

describe('adding the response to a redirect URI', () => {
  it('keeps the redirect URI’s own query and skips undefined values', () => {
    const uri = withParams('https://app.example/cb?tenant=1', { code: 'c1', state: undefined })
    expect(uri).toBe('https://app.example/cb?tenant=1&code=c1')
  })

  it('adds parameters to a private-use scheme URI', () => {
    expect(withParams('com.example.app:/cb', { code: 'c1' })).toBe('com.example.app:/cb?code=c1')
  })

  it('hands every value back intact through URL parsing, whatever it contains', () => {
    const params = fc.dictionary(
      fc.string({ minLength: 1, unit: 'grapheme' }),
      fc.string({ unit: 'grapheme' }),
    )
    fc.assert(
      fc.property(params, (p) => {
        const url = new URL(withParams('https://app.example/cb?tenant=1', p))
        expect(url.origin + url.pathname).toBe('https://app.example/cb')
        expect([...url.searchParams]).toEqual([['tenant', '1'], ...Object.entries(p)])
      }),
    )
  })
})

describe('the CSP form-action source of a redirect URI', () => {
  it.each([
    ['https://app.example:8443/cb?x=1', 'https://app.example:8443'],
    ['https://app.example/cb', 'https://app.example'],
    ['http://127.0.0.1:5000/cb', 'http://127.0.0.1:5000'],
    ['com.example.app:/cb', 'com.example.app:'],
  ])('lets a form reach %s through %s', (uri, source) => {
    expect(formActionSource(uri)).toBe(source)
  })
})
