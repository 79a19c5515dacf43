/** A user's access token, issued to a session. */
export type UserClaims = {
  iss: string
  aud: string
  sub: string
  username: string
  sid: string
  scope: string
  role: string
  iat: number
  exp: number
  jti: string
  /** The session's client (RFC 9068 §2.2); absent for the legacy password grant. */
  client_id?: string
}

/**
 * A client's own token (client credentials, RFC 6749 §4.4): no user, no session. Its `sub` is
 * `client:<client_id>`, which can never equal a user id (a UUID has no colon), so a resource
 * server keyed on `sub` cannot mistake the client for a user (RFC 9700 §4.15).
 */
export type ClientClaims = {
  iss: string
  aud: string
  sub: string
  client_id: string
  scope: string
  iat: number
  exp: number
  jti: string
}

export type AccessClaims = UserClaims | ClientClaims

export const CLIENT_SUBJECT = 'client:'
export const clientSubject = (clientId: string) => `${CLIENT_SUBJECT}${clientId}`

/** True for a client's own token: it names no session. */
export const isClientToken = (claims: AccessClaims): claims is ClientClaims => !('sid' in claims)

/** The username a user's token names; none for a client's own. */
export const tokenUsername = (claims: AccessClaims | undefined): string | undefined =>
  claims && !isClientToken(claims) ? claims.username : undefined
