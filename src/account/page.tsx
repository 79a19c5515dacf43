import type { AppSession, BrowserSignin } from '../db/account'
import type { Identity } from '../db/identity-providers'
import type { PasskeyRow } from '../db/passkeys'
import type { User } from '../domain/user'
import { Layout } from '../oauth/browser/layout'
import { PasskeyForm, PasskeyScripts } from '../oauth/browser/passkey'
import { scopeText } from '../oauth/browser/scope-text'
import { describeAgent } from './agent'

/**
 * The account page (GET /account): server-rendered, one form per action, each carrying the
 * page's token (`request`) and posting to /account/…; no script but the passkey forms'. Every
 * control has a visible label or a name that starts with its visible text (WCAG 2.5.3).
 */

/** A message at the top of the page: what just happened, or why it did not. */
export type Notice = { kind: 'success' | 'error'; text: string }

/** An app holding the user's consent or a live session. */
export type ConnectedApp = {
  client_id: string
  client_name: string
  first_party: boolean
  scopes: string[]
  /** Unix seconds of the first consent or session. */
  since: number
  consented: boolean
  sessions: number
}

export type AccountView = {
  user: User
  token: string
  method: 'password' | 'passkey' | 'provider'
  since: number
  fresh: boolean
  hasPassword: boolean
  /** The passkey this browser signed in with, if it did: removing it signs this browser out. */
  signedInWith: string | null
  passkeys: PasskeyRow[]
  signins: BrowserSignin[]
  sessions: AppSession[]
  apps: ConnectedApp[]
  identities: Identity[]
  providers: { id: string; name: string }[]
  /** The ceremonies' options; absent where passkeys are unavailable (an IP address as RP ID). */
  passkey?: { register?: object; confirm?: object }
  notice?: Notice
}

const when = (seconds: number) => {
  const iso = new Date(seconds * 1000).toISOString()
  return <time datetime={iso}>{`${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`}</time>
}

const Hidden = ({ token }: { token: string }) => (
  <input type="hidden" name="request" value={token} />
)

/** A form of one button: posts `field` (name, value), with the page's token, to `action`. */
const ActionButton = (p: {
  token: string
  action: string
  field?: [string, string]
  tone: 'secondary' | 'danger'
  label: string
  ariaLabel?: string
}) => (
  <form method="post" action={p.action} class="inline">
    <Hidden token={p.token} />
    {p.field && <input type="hidden" name={p.field[0]} value={p.field[1]} />}
    <button type="submit" class={p.tone} aria-label={p.ariaLabel}>
      {p.label}
    </button>
  </form>
)

export const AccountPage = (v: AccountView) => (
  <Layout title="Your account">
    <nav aria-label="Account sections" class="sections">
      <a href="/">Your todos</a>
      <a href="#profile">Profile</a>
      <a href="#password">Password</a>
      <a href="#passkeys">Passkeys</a>
      <a href="#devices">Sessions</a>
      <a href="#apps">Apps</a>
      <a href="#identities">Sign-in providers</a>
    </nav>
    <section aria-labelledby="account-heading">
      <h2 id="account-heading">Your account</h2>
      <p>
        Signed in as <strong>{v.user.username}</strong>
        {v.user.role === 'admin' ? ' (admin)' : ''} in this browser since {when(v.since)}.
      </p>
      {v.notice && (
        <p
          class={v.notice.kind === 'success' ? 'notice success' : 'notice error'}
          role={v.notice.kind === 'success' ? 'status' : 'alert'}
        >
          {v.notice.text}
        </p>
      )}
      <ActionButton
        token={v.token}
        action="/account/logout"
        tone="secondary"
        label="Sign out of this browser"
      />
    </section>
    <Profile {...v} />
    <Password {...v} />
    <Passkeys {...v} />
    <Devices {...v} />
    <Apps {...v} />
    <Identities {...v} />
    {v.passkey && <PasskeyScripts />}
  </Layout>
)

const Profile = (v: AccountView) => (
  <section aria-labelledby="profile">
    <h2 id="profile">Profile</h2>
    <form method="post" action="/account/profile">
      <Hidden token={v.token} />
      <label for="name">Name</label>
      <input id="name" name="name" autocomplete="name" maxlength={200} value={v.user.name} />
      <label for="email">Email</label>
      <input id="email" name="email" type="email" autocomplete="email" value={v.user.email} />
      <p class="hint" id="email-hint">
        An email you set here is shown to you and to administrators; it never links a sign-in from
        another provider to this account.
      </p>
      <button type="submit">Save profile</button>
    </form>
  </section>
)

const Password = (v: AccountView) => (
  <section aria-labelledby="password">
    <h2 id="password">Password</h2>
    {v.hasPassword ? (
      <form method="post" action="/account/password">
        <Hidden token={v.token} />
        <input type="hidden" name="username" autocomplete="username" value={v.user.username} />
        <label for="current_password">Current password</label>
        <input
          id="current_password"
          name="current_password"
          type="password"
          autocomplete="current-password"
          required
        />
        <label for="new_password">New password</label>
        <input
          id="new_password"
          name="new_password"
          type="password"
          autocomplete="new-password"
          aria-describedby="new-password-hint"
          required
        />
        <p class="hint" id="new-password-hint">
          8 to 72 bytes, not a common password. Changing it signs out every app and every other
          browser.
        </p>
        <label for="confirm_password">New password again</label>
        <input
          id="confirm_password"
          name="confirm_password"
          type="password"
          autocomplete="new-password"
          required
        />
        <button type="submit">Change password</button>
      </form>
    ) : (
      <p>
        This account has no password: you sign in with a passkey or another provider. An
        administrator can set one.
      </p>
    )}
  </section>
)

/** The confirmation the actions that add or remove a way in need (src/db/account.ts). */
const Confirm = (v: AccountView) => (
  <div class="confirm" id="confirm">
    <p>
      To add or remove a passkey, or link or unlink a provider, confirm it is you: you signed in
      {v.method === 'provider' ? ' through a provider' : ' more than five minutes ago'}.
    </p>
    {v.hasPassword && (
      <form method="post" action="/account/confirm">
        <Hidden token={v.token} />
        <input type="hidden" name="username" autocomplete="username" value={v.user.username} />
        <label for="confirm-password">Password</label>
        <input
          id="confirm-password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
        />
        <button type="submit">Confirm with password</button>
      </form>
    )}
    {v.passkey?.confirm && (
      <PasskeyForm
        action="/account/confirm"
        fields={{ request: v.token }}
        ceremony="get"
        options={v.passkey.confirm}
        label="Confirm with a passkey"
      />
    )}
    {!v.hasPassword && !v.passkey?.confirm && (
      <p class="hint">Sign out and sign in again to do this.</p>
    )}
  </div>
)

const Passkeys = (v: AccountView) => (
  <section aria-labelledby="passkeys">
    <h2 id="passkeys">Passkeys</h2>
    <p class="hint">
      A passkey signs you in with your device’s screen lock or a security key, instead of the
      password. It cannot be phished: it works only on this site.
    </p>
    {v.passkeys.length === 0 ? (
      <p>No passkeys yet.</p>
    ) : (
      <ul class="items">
        {v.passkeys.map((k, i) => (
          <li>
            <p>
              <strong>{k.name}</strong>
              <br />
              <span class="meta">
                Added {when(k.created_at)}; last used{' '}
                {k.last_used_at ? when(k.last_used_at) : 'never'};{' '}
                {k.device_type === 'multiDevice'
                  ? k.backed_up
                    ? 'synced to your other devices'
                    : 'can sync, not backed up yet'
                  : 'on one device only'}
                .
                {k.id === v.signedInWith &&
                  ' This browser signed in with it: removing it signs this browser out.'}
              </span>
            </p>
            <form method="post" action="/account/passkeys/rename" class="inline">
              <Hidden token={v.token} />
              <input type="hidden" name="id" value={k.id} />
              <label for={`passkey-name-${i}`}>New name</label>
              <input id={`passkey-name-${i}`} name="name" maxlength={64} required value={k.name} />
              <button type="submit" class="secondary" aria-label={`Rename ${k.name}`}>
                Rename
              </button>
            </form>
            <ActionButton
              token={v.token}
              action="/account/passkeys/remove"
              field={['id', k.id]}
              tone="danger"
              label="Remove"
              ariaLabel={`Remove ${k.name}`}
            />
          </li>
        ))}
      </ul>
    )}
    {!v.passkey ? (
      <p class="hint">
        Passkeys need this server to be reached by a domain name, not an IP address.
      </p>
    ) : v.fresh && v.passkey.register ? (
      <PasskeyForm
        action="/account/passkeys"
        fields={{ request: v.token }}
        ceremony="create"
        options={v.passkey.register}
        label="Add a passkey"
      >
        <label for="new-passkey-name">Name for the new passkey</label>
        <input
          id="new-passkey-name"
          name="name"
          maxlength={64}
          placeholder="e.g. Laptop"
          value="Passkey"
        />
      </PasskeyForm>
    ) : null}
    {!v.fresh && <Confirm {...v} />}
  </section>
)

const signinLabel = (s: BrowserSignin) =>
  s.current
    ? 'This browser'
    : `${describeAgent(s.user_agent)}, signed in ${new Date(s.created_at * 1000)
        .toISOString()
        .slice(0, 16)
        .replace('T', ' ')} UTC`

const From = ({ prefix, agent }: { prefix: string | null; agent: string | null }) => (
  <>
    {describeAgent(agent)}
    {prefix ? (
      <>
        {' '}
        from <code>{prefix}</code>
      </>
    ) : null}
  </>
)

const Devices = (v: AccountView) => (
  <section aria-labelledby="devices">
    <h2 id="devices">Sessions and devices</h2>
    <p class="hint">
      Browsers signed in to this server, and the apps’ logins. “This browser” is the sign-in you are
      using now; signing out of an app’s session ends its tokens at their next request.
    </p>
    <h3>Browsers</h3>
    <ul class="items">
      {v.signins.map((s) => (
        <li class={s.current ? 'current' : undefined}>
          <p>
            <strong>{s.current ? 'This browser' : describeAgent(s.user_agent)}</strong>
            <br />
            <span class="meta">
              Signed in {when(s.created_at)}
              {s.passkey_name
                ? ` with the passkey “${s.passkey_name}”`
                : s.provider_name
                  ? ` through ${s.provider_name}`
                  : ' with the password'}
              {'; '}
              <From prefix={s.address_prefix} agent={s.user_agent} />; until {when(s.expires_at)}.
            </span>
          </p>
          {!s.current && (
            <ActionButton
              token={v.token}
              action="/account/sessions/end"
              field={['signin', s.id]}
              tone="secondary"
              label="Sign out"
              ariaLabel={`Sign out ${signinLabel(s)}`}
            />
          )}
        </li>
      ))}
    </ul>
    <h3>App sessions</h3>
    {v.sessions.length === 0 ? (
      <p>No app is signed in.</p>
    ) : (
      <ul class="items">
        {v.sessions.map((s) => {
          const app = s.client_name ?? 'A password login without an app'
          const started = new Date(s.created_at * 1000).toISOString().slice(0, 16).replace('T', ' ')
          return (
            <li>
              <p>
                <strong>{app}</strong>
                <br />
                <span class="meta">
                  Started {when(s.created_at)}; last used{' '}
                  {s.last_used_at ? when(s.last_used_at) : 'unknown'};{' '}
                  <From prefix={s.address_prefix} agent={s.user_agent} />.
                </span>
              </p>
              <ActionButton
                token={v.token}
                action="/account/sessions/end"
                field={['session', s.id]}
                tone="secondary"
                label="Sign out"
                ariaLabel={`Sign out ${app}, started ${started} UTC`}
              />
            </li>
          )
        })}
      </ul>
    )}
    <form method="post" action="/account/sessions/end-others">
      <Hidden token={v.token} />
      <button type="submit" class="danger">
        Sign out everywhere else
      </button>
    </form>
  </section>
)

const Apps = (v: AccountView) => (
  <section aria-labelledby="apps">
    <h2 id="apps">Connected apps</h2>
    {v.apps.length === 0 ? (
      <p>No app has access to your account.</p>
    ) : (
      <ul class="items">
        {v.apps.map((a) => (
          <li>
            <p>
              <strong>{a.client_name}</strong>
              {a.first_party ? ' (part of this service)' : ''}
              <br />
              <span class="meta">
                Since {when(a.since)}
                {a.sessions > 0
                  ? `; ${a.sessions} live session${a.sessions > 1 ? 's' : ''}`
                  : '; no live session'}
                . It may:
              </span>
            </p>
            <ul>
              {a.scopes.map((s) => (
                <li>{scopeText(s, v.user.role)}</li>
              ))}
            </ul>
            <ActionButton
              token={v.token}
              action="/account/apps/withdraw"
              field={['client_id', a.client_id]}
              tone="danger"
              label="Withdraw access"
              ariaLabel={`Withdraw access of ${a.client_name}`}
            />
          </li>
        ))}
      </ul>
    )}
  </section>
)

const Identities = (v: AccountView) => {
  const linked = new Set(v.identities.map((i) => i.provider_id))
  const others = v.providers.filter((p) => !linked.has(p.id))
  return (
    <section aria-labelledby="identities">
      <h2 id="identities">Sign-in providers</h2>
      {v.identities.length === 0 ? (
        <p>No other provider is linked to this account.</p>
      ) : (
        <ul class="items">
          {v.identities.map((i) => (
            <li>
              <p>
                <strong>{i.provider_name}</strong>
                <br />
                <span class="meta">
                  {i.email ? `${i.email}, ` : ''}linked {i.created_at.slice(0, 10)}.
                </span>
              </p>
              <ActionButton
                token={v.token}
                action="/account/identities/unlink"
                field={['provider', i.provider_id]}
                tone="danger"
                label="Unlink"
                ariaLabel={`Unlink ${i.provider_name}`}
              />
            </li>
          ))}
        </ul>
      )}
      {others.length > 0 && (
        <ul class="federation" aria-label="Link another provider">
          {others.map((p) => (
            <li>
              <a
                href={`/account/link/${encodeURIComponent(p.id)}?request=${encodeURIComponent(
                  v.token,
                )}`}
              >
                {`Link your ${p.name} account`}
              </a>
            </li>
          ))}
        </ul>
      )}
      {!v.fresh && (v.identities.length > 0 || others.length > 0) && (
        <p class="hint">
          Linking and unlinking need a recent sign-in: <a href="#confirm">confirm it is you</a>.
        </p>
      )}
    </section>
  )
}
