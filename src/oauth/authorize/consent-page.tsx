import type { Role } from '../../domain/user'
import { type AppOrigin, AppOriginNote } from '../browser/app-origin'
import { Layout } from '../browser/layout'
import { scopeText } from '../browser/scope-text'

/**
 * The consent page: names the app and what it may do for this user (their role decides it:
 * ../browser/scope-text.ts), answers with a submit named `decision`. Deny comes first in the form,
 * so it is the form's default button (HTML "implicit submission"), and nothing is focused, so
 * Enter on arrival allows nothing; Allow is the one filled button.
 */
export const ConsentPage = (p: {
  clientName: string
  /** Where the app sends the person and whether it is vetted; absent for a first-party app. */
  origin?: AppOrigin
  clientId: string
  username: string
  role: Role
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
          <li>{scopeText(s, p.role)}</li>
        ))}
      </ul>
      <form method="post" action="/auth/authorize/consent" class="decision">
        <input type="hidden" name="request" value={p.request} />
        <button type="submit" name="decision" value="deny" class="deny">
          Deny
        </button>
        <button type="submit" name="decision" value="allow" class="allow">
          Allow
        </button>
      </form>
      <p class="hint">
        You can withdraw this app’s access at any time on{' '}
        <a href="/account#apps">your account page</a>.
      </p>
    </section>
  </Layout>
)
