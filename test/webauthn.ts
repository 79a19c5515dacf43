/**
 * A software authenticator for the workerd tests: real WebAuthn objects made with WebCrypto (an
 * ES256 key pair, authenticator data with its flags and counter, clientDataJSON, a DER signature,
 * a CBOR attestation object of format "none"), so the server's checks run on what a browser
 * would send, and each test breaks exactly one thing (W3C Web Authentication Level 3).
 */

const encoder = new TextEncoder()

export const b64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '')

const fromB64url = (s: string) =>
  Uint8Array.from(atob(s.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0))

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const sha256 = async (data: Uint8Array) =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', data))

// CBOR (RFC 8949), the little a COSE key and an attestation object need: unsigned and negative
// integers, byte and text strings, maps.
type Cbor = number | string | Uint8Array | Map<Cbor, Cbor>
const head = (major: number, n: number) => {
  if (n < 24) return Uint8Array.of((major << 5) | n)
  if (n < 256) return Uint8Array.of((major << 5) | 24, n)
  return Uint8Array.of((major << 5) | 25, n >> 8, n & 0xff)
}
function cbor(v: Cbor): Uint8Array {
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v)
  if (typeof v === 'string') {
    const bytes = encoder.encode(v)
    return concat(head(3, bytes.length), bytes)
  }
  if (v instanceof Uint8Array) return concat(head(2, v.length), v)
  return concat(head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)]))
}

/** ECDSA's raw r‖s (WebCrypto) as the ASN.1 DER sequence WebAuthn carries (§6.5.5). */
function der(raw: Uint8Array): Uint8Array {
  const int = (b: Uint8Array) => {
    let i = 0
    while (i < b.length - 1 && b[i] === 0) i++
    const t = b.slice(i)
    const v = t[0]! & 0x80 ? concat(Uint8Array.of(0), t) : t
    return concat(Uint8Array.of(0x02, v.length), v)
  }
  const body = concat(int(raw.slice(0, 32)), int(raw.slice(32)))
  return concat(Uint8Array.of(0x30, body.length), body)
}

/** Authenticator data flags (§6.1). */
export const UP = 0x01
export const UV = 0x04
export const BE = 0x08
export const BS = 0x10
const AT = 0x40

/** What a test may change in a ceremony, one thing at a time. */
export type Tamper = {
  origin?: string
  rpId?: string
  type?: string
  flags?: number
  counter?: number
  /** A challenge other than the options' (base64url). */
  challenge?: string
  /** The user handle to return; null to return none. */
  userHandle?: string | null
}

export class SoftAuthenticator {
  counter = 0
  readonly credentialId = crypto.getRandomValues(new Uint8Array(16))

  private constructor(
    private readonly keys: CryptoKeyPair,
    readonly rpId: string,
    readonly origin: string,
  ) {}

  static async create(rpId = 'todo.test', origin = 'https://todo.test') {
    const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair
    return new SoftAuthenticator(keys, rpId, origin)
  }

  get id() {
    return b64url(this.credentialId)
  }

  private userHandle = ''

  private clientData(type: string, challenge: string, t: Tamper) {
    return encoder.encode(
      JSON.stringify({
        type: t.type ?? type,
        challenge: t.challenge ?? challenge,
        origin: t.origin ?? this.origin,
        crossOrigin: false,
      }),
    )
  }

  private async authData(flags: number, counter: number, t: Tamper, attested?: Uint8Array) {
    const rpIdHash = await sha256(encoder.encode(t.rpId ?? this.rpId))
    const count = new Uint8Array(4)
    new DataView(count.buffer).setUint32(0, counter)
    return concat(rpIdHash, Uint8Array.of(flags), count, attested ?? new Uint8Array())
  }

  /** navigator.credentials.create() (§5.1.3) with fmt "none", as the browser would JSON it. */
  async register(
    options: { challenge: string; user: { id: string } },
    t: Tamper = {},
    flags = UP | UV,
  ) {
    this.userHandle = options.user.id
    const jwk = (await crypto.subtle.exportKey('jwk', this.keys.publicKey)) as JsonWebKey
    const cose = cbor(
      new Map<Cbor, Cbor>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, fromB64url(jwk.x!)],
        [-3, fromB64url(jwk.y!)],
      ]),
    )
    const idLength = Uint8Array.of(0, this.credentialId.length)
    const attested = concat(new Uint8Array(16), idLength, this.credentialId, cose)
    const authData = await this.authData(flags | AT, t.counter ?? this.counter, t, attested)
    const attestationObject = cbor(
      new Map<Cbor, Cbor>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    )
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(this.clientData('webauthn.create', options.challenge, t)),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    }
  }

  /** navigator.credentials.get() (§5.1.4): the counter goes up by one unless told otherwise. */
  async assert(options: { challenge: string }, t: Tamper = {}, flags = UP | UV) {
    const counter = t.counter ?? ++this.counter
    const authData = await this.authData(flags, counter, t)
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, t)
    const signed = concat(authData, await sha256(clientDataJSON))
    const raw = new Uint8Array(
      await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, this.keys.privateKey, signed),
    )
    const handle = t.userHandle === undefined ? this.userHandle : t.userHandle
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(der(raw)),
        ...(handle !== null && handle !== '' && { userHandle: handle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    }
  }
}

const ENTITIES: Record<string, string> = {
  '&quot;': '"',
  '&#39;': "'",
  '&lt;': '<',
  '&gt;': '>',
  '&amp;': '&',
}

/** The options a page's passkey form carries (`data-options`), for `create` or `get`. */
export function passkeyOptions(html: string, ceremony: 'create' | 'get') {
  const form = html.split('<form').find((f) => f.includes(`data-ceremony="${ceremony}"`))
  const m = form?.match(/data-options="([^"]*)"/)
  if (!m) throw new Error(`no ${ceremony} passkey options in: ${html.slice(0, 300)}`)
  return JSON.parse(m[1]!.replace(/&quot;|&#39;|&lt;|&gt;|&amp;/g, (e) => ENTITIES[e]!))
}
