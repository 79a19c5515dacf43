import type { Role } from '../../domain/user'
import { Layout } from '../browser/layout'
import { scopeText } from '../browser/scope-text'

/** The device page's first step: the code the device shows (RFC 8628 §3.3), typed or prefilled. */
export const DeviceCodePage = (p: { request: string; userCode?: string; error?: string }) => (
  <Layout title="Connect a device">
    <section aria-labelledby="device-heading">
      <h2 id="device-heading">Connect a device</h2>
      <p>Enter the code shown on the device or app you are signing in to.</p>
      {p.error && (
        <p id="message" role="alert">
          {p.error}
        </p>
      )}
      <form method="post" action="/device/code">
        <input type="hidden" name="request" value={p.request} />
        <label for="user_code">Code</label>
        <input
          id="user_code"
          name="user_code"
          autocomplete="off"
          autocapitalize="characters"
          spellcheck={false}
          placeholder="WDJB-MJHT"
          maxlength={20}
          required
          autofocus
          value={p.userCode ?? ''}
        />
        <button type="submit">Continue</button>
      </form>
    </section>
  </Layout>
)

/**
 * The approval step. RFC 8628 §5.4 (remote phishing): someone may have started the request on
 * their own device and sent the person the link, so the page says plainly what is approved, for
 * which app, and where and when the request was made, and asks them to allow only a device they
 * hold.
 */
export const DeviceConsentPage = (p: {
  clientName: string
  clientId: string
  username: string
  role: Role
  scopes: string[]
  userCode: string
  requestedFrom: string | null
  userAgent: string | null
  minutesAgo: number
  request: string
}) => (
  <Layout title="Allow a device">
    <section aria-labelledby="device-consent-heading">
      <h2 id="device-consent-heading">
        Sign in <strong>{p.clientName}</strong> on a device as <strong>{p.username}</strong>?
      </h2>
      <p>
        A device showing the code <code>{p.userCode}</code> asks to use your account.
      </p>
      <p>
        Through the app <strong>{p.clientName}</strong> (client id <code>{p.clientId}</code>) it
        will be able to:
      </p>
      <ul>
        {p.scopes.map((s) => (
          <li>{scopeText(s, p.role)}</li>
        ))}
      </ul>
      <p>
        The request was made{' '}
        {p.minutesAgo < 1 ? 'less than a minute ago' : `${p.minutesAgo} minutes ago`}
        {p.requestedFrom ? (
          <>
            {' '}
            from the address <code>{p.requestedFrom}</code>
          </>
        ) : null}
        {p.userAgent ? (
          <>
            {' '}
            by <code>{p.userAgent}</code>
          </>
        ) : null}
        .
      </p>
      <p role="note">
        <strong>Only allow this if you started it yourself, on a device in front of you.</strong> If
        someone sent you this code or link, choose Deny: allowing would give them your account.
      </p>
      <form method="post" action="/device/decision" class="decision">
        <input type="hidden" name="request" value={p.request} />
        <button type="submit" name="decision" value="deny" class="deny" autofocus>
          Deny
        </button>
        <button type="submit" name="decision" value="allow" class="allow">
          Allow
        </button>
      </form>
    </section>
  </Layout>
)

/** The last step: back to the device. A success is styled as one, a refusal as neutral. */
export const DeviceDonePage = (p: { approved: boolean; clientName: string }) => (
  <Layout title={p.approved ? 'Device connected' : 'Device refused'}>
    <section aria-labelledby="device-done-heading">
      <h2 id="device-done-heading">{p.approved ? 'Device connected' : 'Request denied'}</h2>
      <p class={p.approved ? 'notice success' : 'notice'} role="status">
        {p.approved
          ? `${p.clientName} is signed in. You can close this page and go back to your device.`
          : `${p.clientName} was not signed in. You can close this page.`}
      </p>
    </section>
  </Layout>
)
