import { type AppOrigin, AppOriginNote } from '../browser/app-origin'
import { Layout } from '../browser/layout'
import { PasskeyForm, PasskeyScripts } from '../browser/passkey'

/** The login page: fields `username` and `password`, and the pending request as its CSRF token. */
export const LoginPage = (p: {
  clientName: string
  /** Where the app sends the person and whether it is vetted; absent for a first-party app. */
  origin?: AppOrigin
  request: string
  error?: string
  username?: string
  /** Enabled upstream identity providers (docs/federation.md): one "Continue with" link each. */
  providers?: { id: string; name: string }[]
  /** Where the form goes: the authorization endpoint's, or the device page's. */
  action?: string
  /** A passkey's sign-in options (WebAuthn §5.5); absent where passkeys are unavailable. */
  passkey?: object
}) => (
  <Layout title="Log in">
    <section aria-labelledby="login-heading">
      <h2 id="login-heading">Log in</h2>
      <p>
        to continue to <strong>{p.clientName}</strong>
      </p>
      {p.origin && <AppOriginNote origin={p.origin} />}
      {p.error && (
        <p id="message" role="alert">
          {p.error}
        </p>
      )}
      <form method="post" action={p.action ?? '/auth/authorize/login'}>
        <input type="hidden" name="request" value={p.request} />
        <label for="username">Username</label>
        <input
          id="username"
          name="username"
          autocomplete={p.passkey ? 'username webauthn' : 'username'}
          autocapitalize="none"
          required
          autofocus
          value={p.username ?? ''}
        />
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
        />
        <button type="submit">Log in</button>
      </form>
      {p.passkey && (
        <PasskeyForm
          action={p.action ?? '/auth/authorize/login'}
          fields={{ request: p.request }}
          ceremony="get"
          options={p.passkey}
          label="Sign in with a passkey"
          autofill
        />
      )}
      {p.providers && p.providers.length > 0 && (
        <ul class="federation" aria-label="Other ways to log in">
          {p.providers.map((idp) => (
            <li>
              <a href={`/auth/federate/${idp.id}?request=${encodeURIComponent(p.request)}`}>
                Continue with {idp.name}
              </a>
            </li>
          ))}
        </ul>
      )}
    </section>
    {p.passkey && <PasskeyScripts />}
  </Layout>
)
