import type { RedirectTarget } from '../../domain/redirect-uris'

/** What the login and consent pages say about an app besides its name, which it chose itself. */
export type AppOrigin = {
  /** Where this request's redirect URI sends the person. */
  target: RedirectTarget
  /** No administrator registered or vetted it: anyone could have (RFC 7591). */
  unverified: boolean
}

/**
 * RFC 7591 §5: a client's name is free text, so it may read "todo-auth web app". Under the name,
 * every app that is not first-party shows where it sends the person (its redirect URI's host, a
 * native app's scheme, or this device), and an app anyone could register says it is unverified.
 */
export const AppOriginNote = ({ origin }: { origin: AppOrigin }) => {
  const { target } = origin
  const where =
    target.kind === 'web' ? (
      <>
        It sends you back to <strong>{target.host}</strong>.
      </>
    ) : target.kind === 'native' ? (
      <>
        It is an app that opens <strong>{target.scheme}:</strong> links on your device.
      </>
    ) : (
      <>It is an app on this device.</>
    )
  return (
    <>
      <p class="app-origin">{where}</p>
      {origin.unverified && (
        <p class="unverified">
          <strong>Unverified app.</strong> Anyone can register an app here, under any name; no
          administrator has checked this one. Continue only if you trust{' '}
          {target.kind === 'web' ? target.host : 'it'}.
        </p>
      )}
    </>
  )
}
