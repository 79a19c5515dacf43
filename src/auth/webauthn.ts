import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server'
import * as z from 'zod'
import type { PasskeyRow } from '../db/passkeys'
import { toBase64Url } from '../lib/crypto'

/**
 * The WebAuthn ceremonies (W3C Web Authentication Level 3) of the passkeys, through
 * @simplewebauthn/server, which checks what §7.1 (registration) and §7.2 (authentication) ask of
 * a relying party: the type, the challenge, the origin, the RP ID hash, user presence and user
 * verification, the signature and the signature counter. What it cannot know is checked here or
 * in the statement that acts (src/db/passkeys.ts): the challenge's binding and single use
 * (src/oauth/browser/passkey.ts), the user handle, and the backup eligibility.
 *
 * Every passkey is a discoverable credential made and used with user verification required
 * (§5.4.6 residentKey, §5.8.6 userVerification): a passkey stands alone, as a password and a
 * second factor in one, so it must prove the person (a PIN, a fingerprint), not only a touch.
 */

/**
 * The library, loaded when a page first needs it: bundled all the same (docs/performance.md,
 * "Bundle budget"), but its modules (and their certificate and ASN.1 machinery) are evaluated
 * only in an isolate that shows or checks a passkey, not at every cold start.
 */
const simplewebauthn = () => import('@simplewebauthn/server')

/** The relying party (§5.1.2): what the issuer's URL makes of it. */
export type RelyingParty = {
  /** The RP ID (§4): the issuer's host. */
  id: string
  /** The origin the browser must report in clientDataJSON (§5.8.1). */
  origin: string
  name: string
  /**
   * Browsers refuse an IP address as an RP ID (§5.1.2 needs a valid domain): passkeys are then
   * not offered at all. `npm run dev` serves `http://127.0.0.1:<port>`; reach it as
   * `http://localhost:<port>` with ISSUER set so (docs/web.md) to use passkeys locally.
   */
  available: boolean
}

export function relyingParty(issuer: string): RelyingParty {
  const url = new URL(issuer)
  const ip = /^\d{1,3}(\.\d{1,3}){3}$/.test(url.hostname) || url.hostname.startsWith('[')
  return { id: url.hostname, origin: url.origin, name: 'todo-auth', available: !ip }
}

/** What the pages wait for a ceremony, in ms (§15.1 recommends 5 to 10 minutes with UV). */
const TIMEOUT = 300_000

/** A challenge string (a sealed token) as the base64url bytes WebAuthn carries (§13.4.3). */
export const challengeBytes = (challenge: string) =>
  toBase64Url(new TextEncoder().encode(challenge))

/** The challenge a response answers, as the string it was made from; null if unreadable. */
export function answeredChallenge(clientDataJSON: string): { raw: string; text: string } | null {
  try {
    const data = JSON.parse(utf8.decode(fromB64(clientDataJSON)))
    if (typeof data?.challenge !== 'string') return null
    const text = utf8.decode(fromB64(data.challenge))
    return { raw: data.challenge, text }
  } catch {
    return null
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

const fromB64 = (s: string) => {
  if (!/^[\w-]*={0,2}$/.test(s)) throw new Error('not base64url')
  const b64 = s.replace(/=+$/, '').replaceAll('-', '+').replaceAll('_', '/')
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0))
}

/** The user handle of an account (§5.4.3 user.id): its id's bytes, which say nothing of them. */
export const userHandle = (userId: string) =>
  new Uint8Array(new TextEncoder().encode(userId).buffer as ArrayBuffer)

/** §5.4: the options of `navigator.credentials.create()`, for the account page. */
export const registrationOptions = async (
  rp: RelyingParty,
  user: { id: string; username: string; name: string },
  challenge: string,
  existing: PasskeyRow[],
): Promise<PublicKeyCredentialCreationOptionsJSON> =>
  (await simplewebauthn()).generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.username,
    userID: userHandle(user.id),
    userDisplayName: user.name || user.username,
    challenge,
    timeout: TIMEOUT,
    // The passkey is trusted on its own, not for its make: no attestation (§5.4.7).
    attestationType: 'none',
    // §5.4.3: the authenticators that hold one of the account's passkeys make no second one.
    excludeCredentials: existing.map((p) => ({ id: p.id, transports: transportsOf(p) })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  })

/**
 * §5.5: the options of `navigator.credentials.get()`. No `allowCredentials` for a sign-in, so
 * the authenticator offers its discoverable credentials (§5.5 "empty list"); the account page's
 * confirmation names the user's own.
 */
export const authenticationOptions = async (
  rp: RelyingParty,
  challenge: string,
  allow: PasskeyRow[] = [],
): Promise<PublicKeyCredentialRequestOptionsJSON> =>
  (await simplewebauthn()).generateAuthenticationOptions({
    rpID: rp.id,
    challenge,
    timeout: TIMEOUT,
    userVerification: 'required',
    allowCredentials: allow.map((p) => ({ id: p.id, transports: transportsOf(p) })),
  })

const transportsOf = (p: PasskeyRow): AuthenticatorTransportFuture[] => {
  try {
    const list = JSON.parse(p.transports)
    return Array.isArray(list) ? list.filter((t) => TRANSPORTS.includes(t)) : []
  } catch {
    return []
  }
}

type AuthenticatorTransportFuture = (typeof TRANSPORTS)[number]
const TRANSPORTS = ['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'] as const

// What a form may carry: base64url strings of bounded length (§5.1 credential ids are at most
// 1023 bytes; a body is at most 16 KiB anyway). Anything else is no response of ours.
const b64 = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[\w-]*$/)
const extensions = z.record(z.string(), z.unknown())

const assertion = z.object({
  id: b64(1400),
  rawId: b64(1400),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64(4096),
    authenticatorData: b64(4096),
    signature: b64(2048),
    userHandle: b64(200).optional(),
  }),
  clientExtensionResults: extensions,
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
})

const attestation = z.object({
  id: b64(1400),
  rawId: b64(1400),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64(4096),
    attestationObject: b64(8192),
    transports: z.array(z.string().max(32)).max(10).optional(),
    authenticatorData: b64(8192).optional(),
    publicKey: b64(2048).optional(),
    publicKeyAlgorithm: z.number().int().optional(),
  }),
  clientExtensionResults: extensions,
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
})

const parse = <T>(schema: z.ZodType<T>, text: unknown): T | null => {
  if (typeof text !== 'string' || text.length > 12_000) return null
  try {
    const parsed = schema.safeParse(JSON.parse(text))
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}

/** A form's `passkey` field as the assertion @simplewebauthn/browser made, or null. */
export const parseAssertion = (text: unknown) =>
  parse(assertion, text) as AuthenticationResponseJSON | null

/** A form's `passkey` field as the attestation @simplewebauthn/browser made, or null. */
export const parseAttestation = (text: unknown) =>
  parse(attestation, text) as RegistrationResponseJSON | null

/** What a verified assertion says, or why it was refused (for the log and the audit trail). */
export type Assertion =
  | {
      ok: true
      counter: number
      backedUp: boolean
      deviceType: PasskeyRow['device_type']
    }
  | { ok: false; reason: string }

/**
 * §7.2, verifying an authentication assertion against the stored credential record. `challenge`
 * is the base64url challenge the response answered, already found valid for this browser and
 * spent. Besides the library's checks: the user handle, when given, must be the passkey's user's
 * (step 6), and the backup eligibility the one it was registered with (§6.1.3: BE never changes).
 */
export async function verifyAssertion(
  rp: RelyingParty,
  response: AuthenticationResponseJSON,
  challenge: string,
  passkey: PasskeyRow,
): Promise<Assertion> {
  const handle = response.response.userHandle
  if (handle !== undefined && handle !== toBase64Url(userHandle(passkey.user_id)))
    return { ok: false, reason: 'user handle' }
  try {
    const { verifyAuthenticationResponse } = await simplewebauthn()
    const { verified, authenticationInfo: info } = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      expectedType: 'webauthn.get',
      requireUserVerification: true,
      credential: {
        id: passkey.id,
        publicKey: fromB64(passkey.public_key),
        counter: passkey.counter,
      },
    })
    if (!verified || !info.userVerified) return { ok: false, reason: 'not verified' }
    if (info.credentialDeviceType !== passkey.device_type)
      return { ok: false, reason: 'backup eligibility changed' }
    return {
      ok: true,
      counter: info.newCounter,
      backedUp: info.credentialBackedUp,
      deviceType: info.credentialDeviceType,
    }
  } catch (err) {
    return { ok: false, reason: reasonOf(err) }
  }
}

/** What a verified registration gives to store, or why it was refused. */
export type Registration =
  | {
      ok: true
      id: string
      publicKey: string
      counter: number
      deviceType: PasskeyRow['device_type']
      backedUp: boolean
      transports: string[]
    }
  | { ok: false; reason: string }

/** §7.1, registering a new credential; `challenge` as for verifyAssertion. */
export async function verifyRegistration(
  rp: RelyingParty,
  response: RegistrationResponseJSON,
  challenge: string,
): Promise<Registration> {
  try {
    const { verifyRegistrationResponse } = await simplewebauthn()
    const { verified, registrationInfo: info } = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      expectedType: 'webauthn.create',
      requireUserPresence: true,
      requireUserVerification: true,
    })
    if (!verified || !info.userVerified) return { ok: false, reason: 'not verified' }
    const { credential } = info
    if (credential.id.length > 1400) return { ok: false, reason: 'credential id too long' }
    return {
      ok: true,
      id: credential.id,
      publicKey: toBase64Url(credential.publicKey),
      counter: credential.counter,
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      transports: (response.response.transports ?? []).filter((t) =>
        (TRANSPORTS as readonly string[]).includes(t),
      ),
    }
  } catch (err) {
    return { ok: false, reason: reasonOf(err) }
  }
}

/** The library's message, short: for the log and the audit detail, never for the page. */
const reasonOf = (err: unknown) =>
  (err instanceof Error ? err.message : 'invalid response').slice(0, 120)
