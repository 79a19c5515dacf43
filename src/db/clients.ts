import type { AuthMethod, GrantType } from '../domain/clients'
import { narrowScopes, SCOPES } from '../domain/scopes'
import { randomToken, sha256Hex, toBase64Url } from '../lib/crypto'
import { isoTime, nowSeconds } from '../lib/time'
import { allRows, firstRow, type Query, rows, run } from './query'

/** A client as the API shows it (RFC 7591 field names): never the secret or its hash. */
export type Client = {
  client_id: string
  client_name: string
  client_type: 'public' | 'confidential'
  redirect_uris: string[]
  grant_types: GrantType[]
  scope: string
  token_endpoint_auth_method: AuthMethod
  first_party: boolean
  /**
   * An administrator registered it, or vetted it since (migration 0007); false for a client that
   * anyone registered through RFC 7591. First-party clients are always vetted.
   */
  vetted: boolean
  disabled: boolean
  created_at: string
  updated_at: string
}

export type ClientRow = Omit<
  Client,
  'redirect_uris' | 'grant_types' | 'first_party' | 'vetted' | 'disabled'
> & {
  client_secret_hash: string | null
  redirect_uris: string
  grant_types: string
  first_party: number
  vetted: number
  disabled: number
  /** The Unix second from which its own tokens count (see tokensEnd); read by findClientRow. */
  tokens_valid_after?: number
}

const COLUMNS = `client_id, client_name, client_type, redirect_uris, grant_types, scope,
  token_endpoint_auth_method, first_party, vetted, disabled, created_at, updated_at`

export const toClient = (row: ClientRow): Client => ({
  client_id: row.client_id,
  client_name: row.client_name,
  client_type: row.client_type,
  redirect_uris: JSON.parse(row.redirect_uris),
  grant_types: JSON.parse(row.grant_types),
  scope: row.scope,
  token_endpoint_auth_method: row.token_endpoint_auth_method,
  first_party: row.first_party === 1,
  vetted: row.vetted === 1,
  disabled: row.disabled === 1,
  created_at: row.created_at,
  updated_at: row.updated_at,
})

/** The row, secret hash included, for authenticating a client; disabled ones too. */
export const findClientRow = (db: D1Database, clientId: string) =>
  db
    .prepare(
      `SELECT ${COLUMNS}, client_secret_hash, tokens_valid_after FROM clients WHERE client_id = ?1`,
    )
    .bind(clientId)
    .first<ClientRow>()

export async function findClient(db: D1Database, clientId: string): Promise<Client | null> {
  const row = await findClientRow(db, clientId)
  return row && toClient(row)
}

/** The client by id, as a query to batch (with the Bearer check). */
export const clientById = (db: D1Database, clientId: string): Query<Client | null> =>
  firstRow(
    db.prepare(`SELECT ${COLUMNS} FROM clients WHERE client_id = ?1`).bind(clientId),
    toClient,
  )

export const listClients = (
  db: D1Database,
  { limit, offset }: { limit: number; offset: number },
): Query<Client[]> =>
  allRows(
    db
      .prepare(`SELECT ${COLUMNS} FROM clients ORDER BY created_at, rowid LIMIT ?1 OFFSET ?2`)
      .bind(limit, offset),
    toClient,
  )

export type NewClient = {
  client_name: string
  redirect_uris: string[]
  grant_types: GrantType[]
  scope: string
  token_endpoint_auth_method: AuthMethod
  first_party: boolean
  /** False for RFC 7591 registration; an administrator's client (the default) is vetted. */
  vetted?: boolean
}

/** A fresh client secret (256 random bits, shown once) and the SHA-256 that is all we keep. */
async function newSecret(): Promise<{ secret: string; hash: string }> {
  const secret = randomToken()
  return { secret, hash: await sha256Hex(secret) }
}

/** Inserts a client; a confidential one comes back with its secret, the only time it is seen. */
export const insertClient = async (db: D1Database, c: NewClient) =>
  run(db, await clientInsertion(db, c))

/** The same as a query to batch; async, for the new secret's hash. */
export async function clientInsertion(
  db: D1Database,
  c: NewClient,
): Promise<Query<{ client: Client; client_secret?: string }>> {
  const clientId = toBase64Url(crypto.getRandomValues(new Uint8Array(16)))
  const confidential = c.token_endpoint_auth_method !== 'none'
  const secret = confidential ? await newSecret() : null
  const now = isoTime()
  const insert = db
    .prepare(
      `INSERT INTO clients (client_id, client_secret_hash, client_name, client_type, redirect_uris,
         grant_types, scope, token_endpoint_auth_method, first_party, vetted, created_at,
         updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, ?10, ?10)
       RETURNING ${COLUMNS}, client_secret_hash`,
    )
    .bind(
      clientId,
      secret?.hash ?? null,
      c.client_name,
      confidential ? 'confidential' : 'public',
      JSON.stringify(c.redirect_uris),
      JSON.stringify(c.grant_types),
      c.scope,
      c.token_endpoint_auth_method,
      c.first_party ? 1 : 0,
      now,
      c.vetted === false && !c.first_party ? 0 : 1,
    )
  return {
    statements: [insert],
    read: (results) => {
      const row = rows<ClientRow>(results, 0)[0]
      if (!row) throw new Error('INSERT ... RETURNING gave no row')
      return { client: toClient(row), ...(secret && { client_secret: secret.secret }) }
    },
  }
}

/**
 * A public client with a fixed id, inserted only when absent (reruns keep an operator's changes):
 * for local seeds such as the todo CLI's `todo-cli` (scripts/local-db.mjs), never a migration.
 * True when it was inserted.
 */
export async function ensurePublicClient(
  db: D1Database,
  clientId: string,
  c: Omit<NewClient, 'token_endpoint_auth_method'>,
): Promise<boolean> {
  const now = isoTime()
  const row = await db
    .prepare(
      `INSERT INTO clients (client_id, client_name, client_type, redirect_uris, grant_types, scope,
         token_endpoint_auth_method, first_party, created_at, updated_at)
       VALUES (?1, ?2, 'public', ?3, ?4, ?5, 'none', ?6, ?7, ?7)
       ON CONFLICT (client_id) DO NOTHING RETURNING client_id`,
    )
    .bind(
      clientId,
      c.client_name,
      JSON.stringify(c.redirect_uris),
      JSON.stringify(c.grant_types),
      c.scope,
      c.first_party ? 1 : 0,
      now,
    )
    .first()
  return row !== null
}

/** Ends every live session of a client once it is disabled: batched after the change. */
const revokeIfDisabled = (db: D1Database, clientId: string) =>
  db
    .prepare(
      `UPDATE sessions SET revoked_at = ?2 WHERE client_id = ?1 AND revoked_at IS NULL
       AND EXISTS (SELECT 1 FROM clients WHERE client_id = ?1 AND disabled = 1)`,
    )
    .bind(clientId, nowSeconds())

export type ClientPatch = Partial<Omit<NewClient, 'token_endpoint_auth_method'>> & {
  disabled?: boolean
}

/**
 * SQL (with the current Unix second bound as `?n`) that ends every token the client issued to
 * itself so far (client credentials): its tokens count only from the next second on, since a
 * token's `iat` has whole seconds and one issued earlier in this very second must end too
 * (src/db/client-tokens.ts). Always at least one past the previous value, so two changes in one
 * second still differ, and a token authenticated before the second change cannot pass for one
 * authenticated after it (stillIssuing). docs/security.md: disabling and re-enabling a client, or
 * taking its grant away and giving it back, must not bring its tokens back; nor may a new secret
 * leave the old one's tokens working.
 */
const tokensEnd = (n: number) => `tokens_valid_after = max(tokens_valid_after + 1, ?${n} + 1)`

/** Whether a change ends the client's own tokens: disabling it, or taking the grant away. */
const endsTokens = (p: ClientPatch) =>
  p.disabled === true ||
  (p.grant_types !== undefined && !p.grant_types.includes('client_credentials'))

/**
 * Changes a client; disabling it ends its sessions and unused codes in the same transaction.
 * Null when there is no such client; 'needs_redirect_uri' when the change would leave a client of
 * the code flow without a redirect URI (RFC 7591 §2), judged against the row in the UPDATE itself.
 */
export const updateClient = (db: D1Database, clientId: string, p: ClientPatch) =>
  run(db, clientUpdate(db, clientId, p))

export function clientUpdate(
  db: D1Database,
  clientId: string,
  p: ClientPatch,
): Query<Client | null | 'needs_redirect_uri'> {
  const sets: string[] = []
  const values: (string | number)[] = []
  const set = (column: string, value: string | number) => {
    values.push(value)
    sets.push(`${column} = ?${values.length + 1}`)
    return `?${values.length + 1}`
  }
  if (p.client_name !== undefined) set('client_name', p.client_name)
  const uris =
    p.redirect_uris === undefined
      ? 'redirect_uris'
      : set('redirect_uris', JSON.stringify(p.redirect_uris))
  const grants =
    p.grant_types === undefined ? 'grant_types' : set('grant_types', JSON.stringify(p.grant_types))
  if (p.scope !== undefined) set('scope', p.scope)
  if (p.first_party !== undefined) set('first_party', p.first_party ? 1 : 0)
  // Vetting is one way; a first-party client is vetted (migration 0007's CHECK).
  if (p.vetted || p.first_party) set('vetted', 1)
  if (p.disabled !== undefined) set('disabled', p.disabled ? 1 : 0)
  set('updated_at', isoTime())
  const guarded = p.redirect_uris !== undefined || p.grant_types !== undefined
  const guard = guarded
    ? `AND (${uris} <> '[]' OR ${grants} NOT LIKE '%"authorization_code"%')`
    : ''
  if (endsTokens(p)) {
    values.push(nowSeconds())
    sets.push(tokensEnd(values.length + 1))
  }
  const statements = [
    db
      .prepare(
        `UPDATE clients SET ${sets.join(', ')} WHERE client_id = ?1 ${guard}
         RETURNING ${COLUMNS}, client_secret_hash`,
      )
      .bind(clientId, ...values),
    revokeIfDisabled(db, clientId),
    db
      .prepare(
        `DELETE FROM authorization_codes WHERE client_id = ?1
         AND EXISTS (SELECT 1 FROM clients WHERE client_id = ?1 AND disabled = 1)`,
      )
      .bind(clientId),
    // Whether a refused change found its client.
    ...(guarded
      ? [db.prepare('SELECT client_id FROM clients WHERE client_id = ?1').bind(clientId)]
      : []),
  ]
  const read = (results: D1Result[]) => {
    const row = rows<ClientRow>(results, 0)[0]
    if (row) return toClient(row)
    return guarded && rows(results, 3).length > 0 ? 'needs_redirect_uri' : null
  }
  return { statements, read }
}

/** Deletes a client; its sessions, refresh tokens, codes and consents go with it (cascade). */
export const clientDeletion = (db: D1Database, clientId: string): Query<boolean> => ({
  statements: [
    db.prepare('DELETE FROM clients WHERE client_id = ?1 RETURNING client_id').bind(clientId),
  ],
  read: (results) => rows(results, 0).length > 0,
})

/**
 * Replaces a confidential client's secret; the old one stops working at once, and so do the
 * tokens the client issued to itself with it (tokensEnd). Null when there is no such client,
 * 'public' when it has no secret to rotate.
 */
export async function clientSecretRotation(
  db: D1Database,
  clientId: string,
): Promise<Query<{ client_secret: string } | 'public' | null>> {
  const secret = await newSecret()
  const update = db
    .prepare(
      `UPDATE clients SET client_secret_hash = CASE WHEN client_type = 'confidential' THEN ?2 END,
         updated_at = CASE WHEN client_type = 'confidential' THEN ?3 ELSE updated_at END,
         ${tokensEnd(4)}
       WHERE client_id = ?1 RETURNING client_type`,
    )
    .bind(clientId, secret.hash, isoTime(), nowSeconds())
  return {
    statements: [update],
    read: (results) => {
      const row = rows<{ client_type: string }>(results, 0)[0]
      if (!row) return null
      return row.client_type === 'confidential' ? { client_secret: secret.secret } : 'public'
    },
  }
}

/**
 * The names of the vetted clients, which a client registered by anyone may not take (RFC 7591
 * §5): an administrator's few, read from migration 0007's index. A statement, to batch.
 */
export const vettedClientNames = (db: D1Database) =>
  db.prepare('SELECT client_name FROM clients WHERE vetted = 1')

/** The apps a user has authorized (remembered consents), oldest first. */
export const listAuthorizedClients = (db: D1Database, userId: string) =>
  allRows(
    db
      .prepare(
        `SELECT c.client_id, c.client_name, k.scope, k.created_at, k.updated_at
       FROM consents k JOIN clients c ON c.client_id = k.client_id
       WHERE k.user_id = ?1 ORDER BY k.created_at, c.client_id`,
      )
      .bind(userId),
    (row: AuthorizedClient) => row,
  )

type AuthorizedClient = {
  client_id: string
  client_name: string
  scope: string
  created_at: string
  updated_at: string
}

/**
 * Withdraws a user's consent for a client and ends that user's sessions of it, in one
 * transaction. False when there was neither a consent nor a live session.
 */
export function consentWithdrawal(
  db: D1Database,
  userId: string,
  clientId: string,
): Query<boolean> {
  const statements = [
    db
      .prepare('DELETE FROM consents WHERE user_id = ?1 AND client_id = ?2 RETURNING client_id')
      .bind(userId, clientId),
    db
      .prepare(
        `UPDATE sessions SET revoked_at = ?3
         WHERE user_id = ?1 AND client_id = ?2 AND revoked_at IS NULL RETURNING id`,
      )
      .bind(userId, clientId, nowSeconds()),
    db
      .prepare('DELETE FROM authorization_codes WHERE user_id = ?1 AND client_id = ?2')
      .bind(userId, clientId),
  ]
  const read = ([consent, sessions]: D1Result[]) =>
    (consent?.results.length ?? 0) + (sessions?.results.length ?? 0) > 0
  return { statements, read }
}

/**
 * The scopes a user has consented to for a client (none when never asked). `redirectHost`, for a
 * Client ID Metadata Document client: the consent given for that redirect host only (migration
 * 0009, src/domain/client-metadata.ts `consentHost`).
 */
export async function consentedScopes(
  db: D1Database,
  userId: string,
  clientId: string,
  redirectHost: string | null = null,
) {
  const row = await (redirectHost === null
    ? db.prepare('SELECT scope FROM consents WHERE user_id = ?1 AND client_id = ?2')
    : db.prepare(
        `SELECT scope FROM consent_hosts
         WHERE user_id = ?1 AND client_id = ?2 AND redirect_host = ?3`,
      )
  )
    .bind(userId, clientId, ...(redirectHost === null ? [] : [redirectHost]))
    .first<{ scope: string }>()
  return row?.scope.split(' ').filter(Boolean) ?? []
}

/**
 * Remembers a consent: these scopes join the ones consented to before. With `redirectHost`, for
 * that host (which joins the client's consent, the union, that listing and withdrawing use).
 */
export async function rememberConsent(
  db: D1Database,
  userId: string,
  clientId: string,
  scopes: string[],
  redirectHost: string | null = null,
): Promise<void> {
  const before = await consentedScopes(db, userId, clientId)
  const scope = narrowScopes([...scopes, ...before], SCOPES).join(' ')
  const now = isoTime()
  const consent = db
    .prepare(
      `INSERT INTO consents (user_id, client_id, scope, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?4)
       ON CONFLICT (user_id, client_id) DO UPDATE SET scope = ?3, updated_at = ?4`,
    )
    .bind(userId, clientId, scope, now)
  if (redirectHost === null) {
    await consent.run()
    return
  }
  const hostBefore = await consentedScopes(db, userId, clientId, redirectHost)
  const hostScope = narrowScopes([...scopes, ...hostBefore], SCOPES).join(' ')
  await db.batch([
    consent,
    db
      .prepare(
        `INSERT INTO consent_hosts (user_id, client_id, redirect_host, scope, created_at,
           updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (user_id, client_id, redirect_host) DO UPDATE SET scope = ?4, updated_at = ?5`,
      )
      .bind(userId, clientId, redirectHost, hostScope, now),
  ])
}
