import { type Context, Hono } from 'hono'
import { checkPassword } from '../auth/login'
import {
  authenticationOptions,
  parseAttestation,
  registrationOptions,
  verifyRegistration,
} from '../auth/webauthn'
import { config } from '../config'
import {
  appsOf,
  devicesOf,
  othersEnding,
  profileChange,
  sessionEnding,
  signinEnding,
} from '../db/account'
import { userChange } from '../db/accounts'
import { audit, auditUserEvent, requestAttribution } from '../db/audit'
import { consentWithdrawal, listAuthorizedClients } from '../db/clients'
import { enabledProviders, identitiesOf, identityUnlinking } from '../db/identity-providers'
import {
  PASSWORD_OR_PASSKEY,
  passkeyInsertion,
  passkeyRemoval,
  passkeyRenaming,
  passkeysOf,
  spendChallenge,
} from '../db/passkeys'
import { passwordSigninStatements } from '../db/signins'
import type { UserRow } from '../db/users'
import { ApiError } from '../domain/errors'
import { hashPassword } from '../domain/passwords'
import { startLinking } from '../federation/upstream-signin'
import type { AppEnv } from '../http/context'
import { primaryDatabase } from '../http/database'
import { doc } from '../http/openapi'
import { passkeyName, passwordForm, profileForm } from '../http/schemas/account'
import { isoTime, nowSeconds } from '../lib/time'
import { LoginPage } from '../oauth/authorize/login-page'
import { errorPage, issuer, pageHeaders } from '../oauth/browser/page'
import {
  answered,
  formSignIn,
  passkeyChallenge,
  passkeySignIn,
  relyingPartyOf,
  signinOptions,
  spentUntil,
} from '../oauth/browser/passkey'
import { unseal } from '../oauth/browser/pending'
import { browserBinding, newSignin, passwordSignIn, signOut } from '../oauth/browser/signin'
import { currentSignin, formToken, guardedBatch, isFresh, pageForm, type Signed } from './forms'
import { AccountPage, type ConnectedApp, type Notice } from './page'

/**
 * The account page (docs/api.md §13): GET /account, and one POST per action. The person signs in
 * with the authorization endpoint's browser sign-in (the same cookie, login form and passkeys);
 * each action answers with a 303 back to the page and a fixed message (`?done=`), or the page
 * again with the error (400). The actions that add or remove a way into the account need a fresh
 * sign-in (src/db/account.ts FRESH_SECONDS), checked in the batch that acts.
 */

/** The fixed messages of `?done=`: nothing a link could make the page say. */
const DONE: Record<string, string> = {
  profile: 'Your profile is saved.',
  password: 'Your password is changed. Every app and every other browser is signed out.',
  'passkey-added': 'The passkey is added. You can sign in with it from now on.',
  'passkey-renamed': 'The passkey is renamed.',
  'passkey-removed': 'The passkey is removed: it no longer signs in.',
  'signed-out': 'That session is ended: its tokens no longer work.',
  'signed-out-others': 'Every other browser and every app is signed out.',
  withdrawn: 'The app’s access is withdrawn: its tokens no longer work.',
  linked: 'The provider is linked: you can sign in through it.',
  unlinked: 'The provider is unlinked.',
  confirmed: 'Thank you: for the next five minutes you can add or remove a way in.',
}

const back = (c: Context<AppEnv>, done: keyof typeof DONE, section = '') =>
  c.redirect(`/account?done=${done}${section && `#${section}`}`, 303)

const text = (v: unknown) => (typeof v === 'string' ? v : '')

/** The login page for /account: the authorization endpoint's, posting to /account/login. */
async function accountLogin(
  c: Context<AppEnv>,
  status: 200 | 400 | 429 = 200,
  error?: string,
  username?: string,
) {
  const binding = browserBinding(c)
  const passkey = await signinOptions(c, binding)
  pageHeaders(c, undefined, passkey !== undefined)
  return c.html(
    <LoginPage
      clientName="your account"
      request={await formToken(c, binding, '')}
      error={error}
      username={username}
      action="/account/login"
      passkey={passkey}
    />,
    status,
  )
}

/** Everything the page shows, read in one batch from the primary. */
async function accountPage(
  c: Context<AppEnv>,
  signed: Signed,
  notice?: Notice,
  status: 200 | 400 | 403 | 409 | 429 = 200,
) {
  const db = primaryDatabase(c)
  const now = nowSeconds()
  const { user } = signed
  const queries = {
    devices: devicesOf(db, user.id, signed.tokenHash, now),
    passkeys: passkeysOf(db, user.id),
    consents: listAuthorizedClients(db, user.id),
    live: appsOf(db, user.id, now),
    identities: identitiesOf(db, user.id),
  }
  const all = Object.values(queries)
  const results = await db.batch(all.flatMap((q) => q.statements))
  let at = 0
  const read = <T,>(q: { statements: unknown[]; read: (r: D1Result[]) => T }) => {
    const mine = results.slice(at, at + q.statements.length)
    at += q.statements.length
    return q.read(mine)
  }
  const devices = read(queries.devices)
  const passkeys = read(queries.passkeys)
  const consents = read(queries.consents)
  const live = read(queries.live)
  const identities = read(queries.identities)
  const rp = relyingPartyOf(c)
  const fresh = isFresh(signed, now)
  const passkey = rp.available
    ? {
        register: fresh
          ? await registrationOptions(
              rp,
              user,
              await passkeyChallenge(c, signed.binding, 'register', user.id),
              passkeys,
            )
          : undefined,
        confirm:
          !fresh && passkeys.length > 0
            ? await authenticationOptions(
                rp,
                await passkeyChallenge(c, signed.binding, 'confirm', user.id),
                passkeys,
              )
            : undefined,
      }
    : undefined
  pageHeaders(c, undefined, passkey !== undefined)
  return c.html(
    <AccountPage
      user={user}
      token={await formToken(c, signed.binding, user.id)}
      method={signed.method}
      since={signed.since}
      fresh={fresh}
      hasPassword={signed.hasPassword}
      signedInWith={signed.passkeyId}
      passkeys={passkeys}
      signins={devices.signins}
      sessions={devices.sessions}
      apps={connectedApps(consents, live)}
      identities={identities}
      providers={await enabledProviders(db)}
      passkey={passkey}
      notice={notice}
    />,
    status,
  )
}

/** The apps with a consent or a live session, with what each may do (the union of both). */
function connectedApps(
  consents: { client_id: string; client_name: string; scope: string; created_at: string }[],
  live: {
    client_id: string
    client_name: string
    first_party: number
    scopes: string
    since: number
  }[],
): ConnectedApp[] {
  const apps = new Map<string, ConnectedApp>()
  for (const k of consents)
    apps.set(k.client_id, {
      client_id: k.client_id,
      client_name: k.client_name,
      first_party: false,
      scopes: k.scope.split(' ').filter(Boolean),
      since: Math.floor(Date.parse(k.created_at) / 1000),
      consented: true,
      sessions: 0,
    })
  for (const s of live) {
    const sessionScopes = s.scopes.split(' ').filter(Boolean)
    const app = apps.get(s.client_id) ?? {
      client_id: s.client_id,
      client_name: s.client_name,
      first_party: s.first_party === 1,
      scopes: [],
      since: s.since,
      consented: false,
      sessions: 0,
    }
    app.first_party = s.first_party === 1
    app.scopes = ['read', 'write'].filter(
      (x) => app.scopes.includes(x) || sessionScopes.includes(x),
    )
    app.since = Math.min(app.since, s.since)
    app.sessions = live.filter((l) => l.client_id === s.client_id).length
    apps.set(s.client_id, app)
  }
  return [...apps.values()]
}

/** A form of the signed-in page: the body and the sign-in, or the answer (login, error page). */
async function signedForm(c: Context<AppEnv>) {
  const form = await pageForm(c)
  if ('page' in form) return form
  const signed = await currentSignin(c)
  // Signed out meanwhile, or another user signed in in this browser since the page was shown.
  if (!signed || signed.user.id !== form.sealedFor || form.sealedFor === '')
    return { page: await accountLogin(c, 400, 'Sign in again to change your account.') }
  return { body: form.body, signed }
}

/** The answer when a guarded batch did not run: the login page, or the page asking to confirm. */
async function stopped(c: Context<AppEnv>, outcome: 'signed-out' | 'not-fresh', signed: Signed) {
  if (outcome === 'signed-out') return accountLogin(c, 400, 'Sign in again to change your account.')
  return accountPage(c, signed, { kind: 'error', text: NOT_FRESH }, 403)
}

const NOT_FRESH =
  'Confirm it is you first (in Passkeys below): adding or removing a way in needs a sign-in ' +
  'from the last five minutes, with your password or a passkey.'

const PAGES = { 403: 'A missing, forged, expired or cross-site form.' } as const

const formDoc = (operationId: string, summary: string, description: string) =>
  doc({
    operationId,
    tag: 'account',
    summary,
    description: `Form fields \`request\` (the page’s token) and ${description}; same-origin only.`,
    responses: { 303: { description: 'Done: back to /account with `?done=…`.' } },
    pages: {
      200: 'The login page, when the browser is no longer signed in as the page’s user.',
      400: 'The account page again, saying what is wrong.',
      ...PAGES,
    },
  })

export const accountRoutes = new Hono<AppEnv>()
  .get(
    '/',
    doc({
      operationId: 'accountPage',
      tag: 'account',
      summary: 'The account page',
      description:
        'HTML. Signed in (the authorization endpoint’s browser sign-in): profile, password, ' +
        'passkeys, sessions and devices, connected apps and linked providers. Else the login ' +
        'page. `done` names a fixed message of the last action.',
      responses: {},
      pages: { 200: 'The account page, or the login page.' },
    }),
    async (c) => {
      issuer(c)
      const signed = await currentSignin(c)
      if (!signed) return accountLogin(c)
      const done = DONE[c.req.query('done') ?? '']
      return accountPage(c, signed, done ? { kind: 'success', text: done } : undefined)
    },
  )
  .post(
    '/login',
    doc({
      operationId: 'submitAccountLogin',
      tag: 'account',
      summary: 'The account page’s login form',
      description:
        'Form fields `request`, and `username` and `password`, or `passkey` (a WebAuthn ' +
        'assertion); same-origin only. The same throttled, audited checks and browser sign-in ' +
        'as the authorization endpoint’s login page.',
      responses: { 303: { description: 'Signed in: to /account.' } },
      pages: {
        400: 'The login page again (wrong credentials or passkey).',
        ...PAGES,
        429: 'The login page again while the account or address is locked.',
      },
    }),
    async (c) => {
      const form = await pageForm(c)
      if ('page' in form) return form.page
      const signIn = await formSignIn(c, form.body)
      if ('message' in signIn)
        return accountLogin(c, signIn.status, signIn.message, signIn.username)
      return c.redirect('/account', 303)
    },
  )
  .post('/logout', formDoc('accountLogout', 'Sign this browser out', 'nothing else'), async (c) => {
    const form = await signedForm(c)
    if ('page' in form) return form.page
    await signOut(c, form.signed.user.id)
    return c.redirect('/account', 303)
  })
  .post(
    '/confirm',
    formDoc(
      'confirmAccount',
      'Confirm it is you (a fresh sign-in)',
      '`password`, or `passkey` (a WebAuthn assertion of one of your passkeys)',
    ),
    async (c) => {
      const form = await signedForm(c)
      if ('page' in form) return form.page
      const { body, signed } = form
      const signIn =
        body.passkey !== undefined
          ? await passkeySignIn(c, body, signed.user)
          : await passwordSignIn(c, { username: signed.user.username, password: body.password })
      if ('message' in signIn)
        return accountPage(c, signed, { kind: 'error', text: signIn.message }, signIn.status)
      return back(c, 'confirmed', 'passkeys')
    },
  )
  .post(
    '/profile',
    formDoc('saveProfile', 'Change your name and email', '`name`, `email`'),
    async (c) => {
      const form = await signedForm(c)
      if ('page' in form) return form.page
      const { body, signed } = form
      const parsed = profileForm.safeParse({ name: text(body.name), email: text(body.email) })
      if (!parsed.success)
        return accountPage(c, signed, { kind: 'error', text: firstIssue(parsed.error) }, 400)
      const db = primaryDatabase(c)
      const updatedAt = isoTime()
      const change = profileChange(db, signed.user.id, parsed.data, updatedAt)
      const by = requestAttribution(c.get('requester'), 'account page: name, email')
      const outcome = await guardedBatch(c, signed, [
        ...change.statements,
        auditUserEvent(db, 'user_updated', signed.user.id, by, 'updated_at = ?7', updatedAt),
      ])
      if (typeof outcome === 'string') return stopped(c, outcome, signed)
      return back(c, 'profile', 'profile')
    },
  )
  .post(
    '/password',
    formDoc(
      'changePasswordOnPage',
      'Change your password',
      '`current_password`, `new_password`, `confirm_password`',
    ),
    async (c) => {
      const form = await signedForm(c)
      if ('page' in form) return form.page
      const { body, signed } = form
      const error = (t: string, status: 400 | 429 = 400) =>
        accountPage(c, signed, { kind: 'error', text: t }, status)
      if (!signed.hasPassword) return error('This account has no password to change.')
      const parsed = passwordForm.safeParse({
        current_password: text(body.current_password),
        new_password: text(body.new_password),
        confirm_password: text(body.confirm_password),
      })
      if (!parsed.success) return error(firstIssue(parsed.error))
      const cfg = config(c.env)
      const db = primaryDatabase(c)
      const credentials = { username: signed.user.username, password: parsed.data.current_password }
      try {
        if (!(await checkPassword(db, cfg, c.get('requester'), credentials)))
          return error('The current password is incorrect.')
      } catch (err) {
        if (err instanceof ApiError && err.code === 'too_many_attempts')
          return error(err.description, 429)
        throw err
      }
      const passwordHash = await hashPassword(parsed.data.new_password, cfg.bcryptCost)
      const by = requestAttribution(c.get('requester'), 'account page')
      const change = userChange(db, signed.user.id, { passwordHash }, by, 'password_change')
      // Every session and sign-in ends with the change (src/db/accounts.ts); this browser is
      // signed in again with the new password in the same transaction, so it stays.
      const next = await newSignin(c)
      const user = { id: signed.user.id, password_hash: passwordHash } as UserRow
      const outcome = await guardedBatch(c, signed, [
        ...change.statements,
        ...passwordSigninStatements(db, next.signin, user),
      ])
      if (typeof outcome === 'string') return stopped(c, outcome, signed)
      if (!change.read(outcome.slice(0, change.statements.length)).ok)
        return error('Your password could not be changed.')
      next.commit()
      return back(c, 'password', 'password')
    },
  )
  .post(
    '/passkeys',
    formDoc(
      'addPasskey',
      'Add a passkey',
      '`name`, `passkey` (a WebAuthn attestation answering the page’s challenge); needs a ' +
        'fresh sign-in',
    ),
    async (c) => {
      const form = await signedForm(c)
      if ('page' in form) return form.page
      const { body, signed } = form
      const error = (t: string) => accountPage(c, signed, { kind: 'error', text: t }, 400)
      const name = passkeyName.safeParse(text(body.name) || 'Passkey')
      if (!name.success) return error(firstIssue(name.error))
      const rp = relyingPartyOf(c)
      const response = rp.available ? parseAttestation(body.passkey) : null
      if (!response) return error('The new passkey’s answer could not be read. Try again.')
      if (!isFresh(signed)) return stopped(c, 'not-fresh', signed)
      const challenge = await answered(
        c,
        response.response.clientDataJSON,
        'register',
        signed.user.id,
      )
      const db = primaryDatabase(c)
      // Spent before it is checked: a challenge is answered once, right or wrong (§13.4.3).
      const spent = challenge && (await spendChallenge(db, challenge.hash, spentUntil()).first())
      const made = spent ? await verifyRegistration(rp, response, challenge.raw) : null
      if (!made?.ok) {
        console.warn('passkey registration refused:', made?.reason ?? 'challenge')
        return error('That passkey could not be added. Try again.')
      }
      const by = requestAttribution(c.get('requester'), `account page: ${name.data}`)
      const outcome = await guardedBatch(
        c,
        signed,
        [
          passkeyInsertion(db, {
            ...made,
            userId: signed.user.id,
            name: name.data,
            now: nowSeconds(),
          }),
          auditUserEvent(
            db,
            'passkey_added',
            signed.user.id,
            by,
            'EXISTS (SELECT 1 FROM passkeys WHERE id = ?7 AND user_id = users.id)',
            made.id,
          ),
        ],
        true,
      )
      if (typeof outcome === 'string') return stopped(c, outcome, signed)
      if ((outcome[0]?.results.length ?? 0) !== 1)
        return error('That passkey is registered already, or you have 20 passkeys.')
      return back(c, 'passkey-added', 'passkeys')
    },
  )
  .post(
    '/passkeys/rename',
    formDoc('renamePasskey', 'Rename a passkey', '`id`, `name`'),
    async (c) => {
      const form = await signedForm(c)
      if ('page' in form) return form.page
      const { body, signed } = form
      const name = passkeyName.safeParse(text(body.name))
      if (!name.success)
        return accountPage(c, signed, { kind: 'error', text: firstIssue(name.error) }, 400)
      const db = primaryDatabase(c)
      const outcome = await guardedBatch(c, signed, [
        passkeyRenaming(db, signed.user.id, text(body.id), name.data),
      ])
      if (typeof outcome === 'string') return stopped(c, outcome, signed)
      if ((outcome[0]?.results.length ?? 0) !== 1)
        return accountPage(c, signed, { kind: 'error', text: 'No such passkey.' }, 400)
      return back(c, 'passkey-renamed', 'passkeys')
    },
  )
  .post(
    '/passkeys/remove',
    formDoc('removePasskey', 'Remove a passkey', '`id`; needs a fresh sign-in'),
    async (c) => {
      const form = await signedForm(c)
      if ('page' in form) return form.page
      const { body, signed } = form
      const db = primaryDatabase(c)
      const id = text(body.id)
      const removal = passkeyRemoval(db, signed.user.id, id)
      const by = requestAttribution(c.get('requester'), 'account page')
      const outcome = await guardedBatch(
        c,
        signed,
        [
          // Before the DELETE and under its condition, so it records exactly a removal.
          auditUserEvent(db, 'passkey_removed', signed.user.id, by, removal.condition, id),
          ...removal.statements,
        ],
        true,
      )
      if (typeof outcome === 'string') return stopped(c, outcome, signed)
      const result = removal.read(outcome.slice(1))
      if (result === 'last')
        return accountPage(
          c,
          signed,
          {
            kind: 'error',
            text: 'This passkey is your only way to sign in: add another first.',
          },
          409,
        )
      if (result === null)
        return accountPage(c, signed, { kind: 'error', text: 'No such passkey.' }, 400)
      return back(c, 'passkey-removed', 'passkeys')
    },
  )
  .post(
    '/sessions/end',
    formDoc(
      'endSession',
      'Sign out one session or browser',
      '`session` (an app’s session id) or `signin` (another browser’s)',
    ),
    async (c) => {
      const form = await signedForm(c)
      if ('page' in form) return form.page
      const { body, signed } = form
      const db = primaryDatabase(c)
      const session = text(body.session)
      const ending = session
        ? sessionEnding(db, signed.user.id, session, nowSeconds())
        : signinEnding(db, signed.user.id, text(body.signin), signed.tokenHash)
      const by = {
        detail: session ? `account page: session ${session}` : 'account page: a browser sign-in',
      }
      const outcome = await guardedBatch(c, signed, [ending])
      if (typeof outcome === 'string') return stopped(c, outcome, signed)
      if ((outcome[0]?.results.length ?? 0) === 0)
        return accountPage(c, signed, { kind: 'error', text: 'That session had ended.' }, 400)
      await audit(db, c.get('requester'), 'session_ended', who(signed), by.detail ?? undefined)
      return back(c, 'signed-out', 'devices')
    },
  )
  .post(
    '/sessions/end-others',
    formDoc('endOtherSessions', 'Sign out everywhere else', 'nothing else'),
    async (c) => {
      const form = await signedForm(c)
      if ('page' in form) return form.page
      const { signed } = form
      const db = primaryDatabase(c)
      const by = requestAttribution(c.get('requester'), 'account page: every other session')
      const outcome = await guardedBatch(c, signed, [
        ...othersEnding(db, signed.user.id, signed.tokenHash, nowSeconds()),
        auditUserEvent(db, 'session_ended', signed.user.id, by, '1'),
      ])
      if (typeof outcome === 'string') return stopped(c, outcome, signed)
      return back(c, 'signed-out-others', 'devices')
    },
  )
  .post(
    '/apps/withdraw',
    formDoc('withdrawApp', 'Withdraw an app’s access', '`client_id`'),
    async (c) => {
      const form = await signedForm(c)
      if ('page' in form) return form.page
      const { body, signed } = form
      const db = primaryDatabase(c)
      const clientId = text(body.client_id)
      const withdrawal = consentWithdrawal(db, signed.user.id, clientId)
      const outcome = await guardedBatch(c, signed, withdrawal.statements)
      if (typeof outcome === 'string') return stopped(c, outcome, signed)
      if (!withdrawal.read(outcome))
        return accountPage(c, signed, { kind: 'error', text: 'That app had no access.' }, 400)
      const detail = `account page: ${clientId.slice(0, 200)}`
      await audit(db, c.get('requester'), 'consent_withdrawn', who(signed), detail)
      return back(c, 'withdrawn', 'apps')
    },
  )
  .get(
    '/link/:provider',
    doc({
      operationId: 'linkProviderFromAccount',
      tag: 'account',
      summary: 'Link a sign-in provider to your account',
      description:
        'Query `request`: the account page’s token. Needs a fresh sign-in. Sends the browser ' +
        'to the provider; its callback links the identity and comes back to /account.',
      responses: { 303: { description: 'To the provider.', headers: { Location: 'Its URL.' } } },
      pages: {
        200: 'The login page, when the browser is no longer signed in as the page’s user.',
        400: 'The provider is unknown, disabled or cannot be reached.',
        ...PAGES,
      },
    }),
    async (c) => {
      issuer(c)
      const signed = await currentSignin(c)
      const token = c.req.query('request')
      const sealed = signed && (await linkToken(c, token, signed))
      if (!signed || !sealed) return accountLogin(c, 400, 'Sign in again to change your account.')
      if (!isFresh(signed)) return stopped(c, 'not-fresh', signed)
      try {
        const url = await startLinking(c, c.req.param('provider'), signed.user.id)
        if (!url) return errorPage(c, 400, 'This sign-in option is not available.')
        return c.redirect(url, 303)
      } catch (err) {
        if (err instanceof ApiError) throw err
        console.error('account: cannot start linking', err)
        return errorPage(c, 400, 'That provider cannot be reached right now. Try again later.')
      }
    },
  )
  .post(
    '/identities/unlink',
    formDoc('unlinkProvider', 'Unlink a sign-in provider', '`provider`; needs a fresh sign-in'),
    async (c) => {
      const form = await signedForm(c)
      if ('page' in form) return form.page
      const { body, signed } = form
      const db = primaryDatabase(c)
      const provider = text(body.provider)
      const by = requestAttribution(c.get('requester'), provider.slice(0, 200))
      const unlinking = identityUnlinking(db, signed.user.id, provider, PASSWORD_OR_PASSKEY, by)
      const outcome = await guardedBatch(c, signed, unlinking.statements, true)
      if (typeof outcome === 'string') return stopped(c, outcome, signed)
      const done = unlinking.read(outcome)
      if (done === 'last')
        return accountPage(
          c,
          signed,
          { kind: 'error', text: 'It is your only way to sign in: add a passkey first.' },
          409,
        )
      if (done === null)
        return accountPage(c, signed, { kind: 'error', text: 'That provider is not linked.' }, 400)
      return back(c, 'unlinked', 'identities')
    },
  )

/** The link's `request`, sealed for this browser and this user. */
async function linkToken(c: Context<AppEnv>, token: string | undefined, signed: Signed) {
  const sealed = await unseal<{ u: string }>(c.env, token, signed.binding, 'account')
  return sealed?.u === signed.user.id
}

const who = (s: Signed) => ({ userId: s.user.id, username: s.user.username })

const firstIssue = (error: { issues: { message: string }[] }) =>
  error.issues[0]?.message ?? 'Check the form.'
