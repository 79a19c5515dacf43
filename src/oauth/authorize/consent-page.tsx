import { type AppOrigin, AppOriginNote } from '../browser/app-origin'
import { Layout } from '../browser/layout'

export const SCOPE_TEXT: Record<string, string> = {
  read: 'See your todos (and, for admins, users and the audit trail)',
  write: 'Create, change and delete your todos (and, for admins, manage users)',
}

/** The consent page: names the app and the scopes, answers with a submit named `decision`. */
export const ConsentPage = (p: {
  clientName: string
  /** Where the app sends the person and whether it is vetted; absent for a first-party app. */
  origin?: AppOrigin
  clientId: string
  username: string
  scopes: string[]
  request: string
}) => (
  <Layout title="Allow access">
    <section aria-labelledby="consent-heading">
      <h2 id="consent-heading">
        Allow <strong>{p.clientName}</strong> to use your account?
      </h2>
      {p.origin && <AppOriginNote origin={p.origin} />}
      <p>
        Signed in as <strong>{p.username}</strong>. The app (client id <code>{p.clientId}</code>)
        asks to:
      </p>
      <ul>
        {p.scopes.map((s) => (
          <li>{SCOPE_TEXT[s] ?? s}</li>
        ))}
      </ul>
      <form method="post" action="/auth/authorize/consent">
        <input type="hidden" name="request" value={p.request} />
        <button type="submit" name="decision" value="allow" autofocus>
          Allow
        </button>
        <button type="submit" name="decision" value="deny">
          Deny
        </button>
      </form>
      <p class="hint">You can withdraw access later (DELETE /users/me/clients/…).</p>
    </section>
  </Layout>
)
