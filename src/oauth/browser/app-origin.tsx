import type { RedirectTarget } from '../../domain/redirect-uris'

/** What the login and consent pages say about an app besides its name, which it chose itself. */
export type AppOrigin = {
  /** Where this request's redirect URI sends the person. */
  target: RedirectTarget
  /** No administrator registered or vetted it: anyone could have (RFC 7591). */
  unverified: boolean
  /**
   * A Client ID Metadata Document client: the host that publishes its document (its client_id),
   * and whether every redirect URI it lists is on the person's own device (loopback).
   */
  document?: { host: string; onlyLoopback: boolean }
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
  const { document } = origin
  return (
    <>
      <p class="app-origin">{where}</p>
      {document && (
        <p class="app-document">
          It describes itself at <strong>{document.host}</strong> (its client id).
        </p>
      )}
      {document?.onlyLoopback && (
        // MCP 2025-11-25, "Localhost Redirect URI Risks": any program on a device can listen on
        // a loopback port and name a well-known app's document, so the name proves nothing here.
        <p class="unverified">
          <strong>Only for an app you just started yourself.</strong> This app returns only to your
          own device (localhost). Any program on this device could have asked in its name: allow it
          only if you started {document.host}’s app yourself a moment ago.
        </p>
      )}
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
