import type { Context } from 'hono'
import * as throttle from '../../auth/throttle'
import {
  type Assertion,
  answeredChallenge,
  authenticationOptions,
  parseAssertion,
  type RelyingParty,
  relyingParty,
  verifyAssertion,
} from '../../auth/webauthn'
import { auditEvent, auditUserEvent, requestAttribution } from '../../db/audit'
import {
  type PasskeyRow,
  passkeyById,
  passkeySigninStatements,
  spendChallenge,
  userRow,
} from '../../db/passkeys'
import { toUser, type UserRow } from '../../db/users'
import { ApiError } from '../../domain/errors'
import type { User } from '../../domain/user'
import type { AppEnv } from '../../http/context'
import { primaryDatabase } from '../../http/database'
import { randomToken, sha256Hex } from '../../lib/crypto'
import { nowSeconds } from '../../lib/time'
import { issuer } from './page'
import { PENDING_TTL, seal, unseal } from './pending'
import { newSignin, type PasswordSignIn, passwordSignIn, sentBinding } from './signin'

/**
 * Passkeys on the pages (docs/security.md, "Passkeys"): their challenges, and signing a browser
 * in with one, for the login page of the authorization endpoint, the device page and the
 * account page alike.
 *
 * A challenge (WebAuthn §13.4.3) is a token sealed like the forms' (./pending.ts, for the
 * `passkey` purpose): 128 random bits, what it is for (a sign-in, the account page's
 * confirmation, a registration) and for which user, bound to this browser's cookie and good for
 * PENDING_TTL. Showing a page therefore writes nothing; answering one spends it for good
 * (table webauthn_challenges), so each is answered once, in the browser it was shown in.
 */

export type ChallengeKind = 'signin' | 'confirm' | 'register'
type Sealed = { n: string; k: ChallengeKind; u?: string }

/** The relying party of this server, from the configured issuer (docs/security.md, "Issuer"). */
export const relyingPartyOf = (c: Context<AppEnv>): RelyingParty => relyingParty(issuer(c))

/** A new challenge for this browser (`binding`, its cookie), for `kind` and, if given, a user. */
export const passkeyChallenge = (
  c: Context<AppEnv>,
  binding: string,
  kind: ChallengeKind,
  userId?: string,
) =>
  seal<Sealed>(
    c.env,
    { n: randomToken().slice(0, 22), k: kind, ...(userId !== undefined && { u: userId }) },
    binding,
    'passkey',
  )

/**
 * The challenge a response answers, if it is one of ours for `kind` (and `userId`), unexpired
 * and sealed to this browser: its base64url form, as clientDataJSON carries it, and that form's
 * SHA-256, which spends it. Null otherwise; nothing is spent then.
 */
export async function answered(
  c: Context<AppEnv>,
  clientDataJSON: string,
  kind: ChallengeKind,
  userId?: string,
): Promise<{ raw: string; hash: string } | null> {
  const found = answeredChallenge(clientDataJSON)
  if (!found) return null
  const sealed = await unseal<Sealed>(c.env, found.text, sentBinding(c), 'passkey')
  if (!sealed || sealed.k !== kind || (userId !== undefined && sealed.u !== userId)) return null
  return { raw: found.raw, hash: await sha256Hex(found.raw) }
}

/** When a challenge spent now may be forgotten: it expires within PENDING_TTL of its sealing. */
export const spentUntil = () => nowSeconds() + PENDING_TTL

/** A login page's passkey options: a sign-in challenge, or none when passkeys are unavailable. */
export async function signinOptions(c: Context<AppEnv>, binding: string) {
  const rp = relyingPartyOf(c)
  if (!rp.available) return undefined
  return authenticationOptions(rp, await passkeyChallenge(c, binding, 'signin'))
}

const FAILED = 'That passkey did not sign you in. Try again, or use your password.'

/**
 * Signs this browser in with a passkey: the form's `passkey` field, the assertion
 * @simplewebauthn/browser made (WebAuthn §7.2). Throttled by the client address with the
 * password checks (src/auth/throttle.ts `passkeyAttempt`) and audited as they are
 * (`login_success`, `login_failure`, the path and "passkey" as detail). In one batch with the
 * charge: the passkey is read and the challenge spent, before the signature is checked. The
 * sign-in row is written only if, in that statement, the assertion moved the passkey's counter
 * and its user is enabled (src/db/passkeys.ts `passkeySigninStatements`). `expect`: the account
 * page's confirmation, which signs in only the user already signed in, with one of their own.
 */
export async function passkeySignIn(
  c: Context<AppEnv>,
  body: Record<string, unknown>,
  expect?: User,
): Promise<PasswordSignIn> {
  const rp = relyingPartyOf(c)
  const requester = c.get('requester')
  const refuse = (message = FAILED) => ({ status: 400 as const, message, username: '' })
  const response = rp.available ? parseAssertion(body.passkey) : null
  if (!response) return refuse('That passkey answer could not be read. Try again.')
  const db = primaryDatabase(c)
  const kind = expect ? 'confirm' : 'signin'
  const challenge = await answered(c, response.response.clientDataJSON, kind, expect?.id)
  let results: throttle.Results<Record<string, D1PreparedStatement>>
  let charge: throttle.Charge
  try {
    ;({ results, charge } = await throttle.run(db, throttle.passkeyAttempt(requester), {
      passkey: passkeyById(db, response.id),
      ...(challenge && { spent: spendChallenge(db, challenge.hash, spentUntil()) }),
    }))
  } catch (err) {
    if (err instanceof ApiError && err.code === 'too_many_attempts')
      return { status: 429, message: err.description, username: '' }
    throw err
  }
  const passkey = results.passkey?.results[0] as (PasskeyRow & { username: string }) | undefined
  const outcome: Assertion = !challenge
    ? { ok: false, reason: 'challenge not ours, expired or from another browser' }
    : results.spent?.results.length !== 1
      ? { ok: false, reason: 'challenge answered before' }
      : !passkey
        ? { ok: false, reason: 'unknown passkey' }
        : expect && passkey.user_id !== expect.id
          ? { ok: false, reason: 'another account’s passkey' }
          : await verifyAssertion(rp, response, challenge.raw, passkey)
  const who = { userId: passkey?.user_id ?? null, username: passkey?.username ?? null }
  if (!outcome.ok || !passkey || !challenge) {
    const detail = `${requester.path} passkey: ${outcome.ok ? '' : outcome.reason}`
    await db
      .batch([
        auditEvent(db, requester, 'login_failure', who, detail),
        ...charge.locksStarted.map((lock) => auditEvent(db, requester, 'lockout', who, lock)),
      ])
      .catch((err: unknown) => console.error('audit write failed:', err))
    return refuse()
  }

  const { token, signin, commit } = await newSignin(c)
  const by = requestAttribution(requester, `${requester.path} passkey`)
  const done = await db.batch([
    ...passkeySigninStatements(db, signin, {
      passkeyId: passkey.id,
      userId: passkey.user_id,
      counter: outcome.counter,
      deviceType: outcome.deviceType,
      backedUp: outcome.backedUp,
      challengeHash: challenge.hash,
      expectUser: expect?.id,
    }),
    // After the sign-in's INSERT, so that it records exactly a sign-in that was written.
    auditUserEvent(
      db,
      'login_success',
      passkey.user_id,
      by,
      'EXISTS (SELECT 1 FROM signins WHERE token_hash = ?7)',
      signin.tokenHash,
    ),
    ...charge.settleSuccess(db),
    userRow(db, passkey.user_id),
  ])
  const row = done.at(-1)?.results[0] as UserRow | undefined
  if ((done[1]?.meta.changes ?? 0) !== 1 || !row) {
    // A counter that did not go up (a cloned authenticator?), a passkey removed or an account
    // disabled since it was read: no sign-in.
    await db
      .batch([auditEvent(db, requester, 'login_failure', who, `${by.detail}: not written`)])
      .catch((err: unknown) => console.error('audit write failed:', err))
    return refuse()
  }
  commit()
  return { user: toUser(row), binding: token }
}

/**
 * A login form of any page: a passkey's answer when it carries one (the passkey form), else the
 * username and password (./signin.ts `passwordSignIn`).
 */
export const formSignIn = (c: Context<AppEnv>, body: Record<string, unknown>) =>
  body.passkey !== undefined ? passkeySignIn(c, body) : passwordSignIn(c, body)

/**
 * The form a page's passkey button answers with (public/passkey.js): hidden until the script
 * finds WebAuthn in the browser, so a page without it shows no dead button. The script puts the
 * ceremony's result in the `passkey` field and submits; its errors go to the alert below.
 */
export const PasskeyForm = (p: {
  action: string
  /** The form's own hidden fields: its CSRF token. */
  fields: Record<string, string>
  /** What the script runs: `get` (a sign-in or a confirmation) or `create` (a new passkey). */
  ceremony: 'get' | 'create'
  options: object
  label: string
  /** Also offer the passkeys in the username field's autofill (WebAuthn §5.1.4 conditional). */
  autofill?: boolean
  children?: unknown
}) => (
  <form
    method="post"
    action={p.action}
    class="passkey"
    data-ceremony={p.ceremony}
    data-autofill={p.autofill ? 'true' : undefined}
    hidden
  >
    {Object.entries(p.fields).map(([name, value]) => (
      <input type="hidden" name={name} value={value} />
    ))}
    <input type="hidden" name="passkey" value="" />
    {p.children}
    <button type="button" class="secondary" data-options={JSON.stringify(p.options)}>
      {p.label}
    </button>
    <p class="passkey-error" role="alert" hidden />
  </form>
)

/** The scripts of a page with a passkey form; its CSP must allow `script-src 'self'`. */
export const PasskeyScripts = () => (
  <>
    <script src="/vendor/simplewebauthn/index.umd.min.js" defer />
    <script src="/passkey.js" defer />
  </>
)
