import { isoTime, nowSeconds } from '../lib/time'
import { type Attribution, auditUserEvent } from './audit'
import { allRows, firstRow, type Query, rows, run } from './query'

/**
 * Upstream OpenID providers and the identities they vouch for (docs/federation.md, data.md).
 * The client secret column is encrypted (../federation/secret.ts) and never leaves this module but
 * through `providerSecret`.
 */
export type Provider = {
  id: string
  name: string
  issuer: string
  client_id: string
  scopes: string
  allow_signup: boolean
  allowed_domains: string[]
  trusted_email: boolean
  enabled: boolean
  created_at: string
  updated_at: string
}

type ProviderRow = Omit<
  Provider,
  'allow_signup' | 'allowed_domains' | 'trusted_email' | 'enabled'
> & { allow_signup: number; allowed_domains: string; trusted_email: number; enabled: number }

const COLUMNS = `id, name, issuer, client_id, scopes, allow_signup, allowed_domains, trusted_email,
  enabled, created_at, updated_at`

const toProvider = (r: ProviderRow): Provider => ({
  ...r,
  allow_signup: r.allow_signup === 1,
  allowed_domains: JSON.parse(r.allowed_domains),
  trusted_email: r.trusted_email === 1,
  enabled: r.enabled === 1,
})

export const providerById = (db: D1Database, id: string): Query<Provider | null> =>
  firstRow(
    db.prepare(`SELECT ${COLUMNS} FROM identity_providers WHERE id = ?1`).bind(id),
    toProvider,
  )

export const findProvider = (db: D1Database, id: string) => run(db, providerById(db, id))

/** The stored (encrypted) client secret of an enabled provider. */
export const providerSecret = (db: D1Database, id: string) =>
  db
    .prepare('SELECT client_secret FROM identity_providers WHERE id = ?1 AND enabled = 1')
    .bind(id)
    .first<string>('client_secret')

type Page = { limit: number; offset: number }

export const providerPage = (db: D1Database, page: Page): Query<Provider[]> =>
  allRows(
    db
      .prepare(
        `SELECT ${COLUMNS} FROM identity_providers ORDER BY created_at, rowid LIMIT ?1 OFFSET ?2`,
      )
      .bind(page.limit, page.offset),
    toProvider,
  )

/** For the CLI (scripts/idp.mjs). */
export const listProviders = (db: D1Database, page: Page) => run(db, providerPage(db, page))

/** For the login page: what its "Continue with" links name. */
export async function enabledProviders(db: D1Database): Promise<{ id: string; name: string }[]> {
  const { results } = await db
    .prepare('SELECT id, name FROM identity_providers WHERE enabled = 1 ORDER BY name, id')
    .all<{ id: string; name: string }>()
  return results
}

export type ProviderFields = Omit<Provider, 'created_at' | 'updated_at'> & {
  /** Encrypted. */
  client_secret: string
}

/** Inserts a provider; null when the id is taken. */
export const providerInsertion = (db: D1Database, p: ProviderFields): Query<Provider | null> =>
  firstRow(
    db
      .prepare(
        `INSERT INTO identity_providers (id, name, issuer, client_id, client_secret, scopes,
         allow_signup, allowed_domains, trusted_email, enabled, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
       ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
      )
      .bind(
        p.id,
        p.name,
        p.issuer,
        p.client_id,
        p.client_secret,
        p.scopes,
        p.allow_signup ? 1 : 0,
        JSON.stringify(p.allowed_domains),
        p.trusted_email ? 1 : 0,
        p.enabled ? 1 : 0,
        isoTime(),
      ),
    toProvider,
  )

export const insertProvider = (db: D1Database, p: ProviderFields) =>
  run(db, providerInsertion(db, p))

/**
 * Everything a provider signed in ends with it: its browser sign-ins, its unused codes and the
 * sessions its codes gave. Statements to batch with the disabling or deletion that requires it.
 */
const endProviderSignins = (db: D1Database, id: string) => [
  db.prepare('DELETE FROM signins WHERE provider_id = ?1').bind(id),
  db.prepare('DELETE FROM authorization_codes WHERE provider_id = ?1 AND used_at IS NULL').bind(id),
  db
    .prepare('UPDATE sessions SET revoked_at = ?2 WHERE provider_id = ?1 AND revoked_at IS NULL')
    .bind(id, nowSeconds()),
  db.prepare('DELETE FROM federation_requests WHERE provider_id = ?1').bind(id),
]

/**
 * Applies the fields given; disabling also ends what the provider signed in, in the same
 * transaction. A changed issuer ends them too: its identities stay, keyed by the old issuer.
 */
export function providerUpdate(
  db: D1Database,
  id: string,
  change: ProviderChange,
): Query<Provider | null> {
  const ends = change.enabled === false || change.issuer !== undefined
  const statements = [
    db
      .prepare(
        `UPDATE identity_providers SET
           name = COALESCE(?2, name), issuer = COALESCE(?3, issuer),
           client_id = COALESCE(?4, client_id), client_secret = COALESCE(?5, client_secret),
           scopes = COALESCE(?6, scopes), allow_signup = COALESCE(?7, allow_signup),
           allowed_domains = COALESCE(?8, allowed_domains),
           trusted_email = COALESCE(?9, trusted_email), enabled = COALESCE(?10, enabled),
           updated_at = ?11
         WHERE id = ?1 RETURNING ${COLUMNS}`,
      )
      .bind(
        id,
        change.name ?? null,
        change.issuer ?? null,
        change.client_id ?? null,
        change.client_secret ?? null,
        change.scopes ?? null,
        bit(change.allow_signup),
        change.allowed_domains ? JSON.stringify(change.allowed_domains) : null,
        bit(change.trusted_email),
        bit(change.enabled),
        isoTime(),
      ),
    ...(ends ? endProviderSignins(db, id) : []),
  ]
  const read = (results: D1Result[]) => {
    const row = rows<ProviderRow>(results, 0)[0]
    return row ? toProvider(row) : null
  }
  return { statements, read }
}

type ProviderChange = Partial<Omit<ProviderFields, 'id'>>

export const updateProvider = (db: D1Database, id: string, change: ProviderChange) =>
  run(db, providerUpdate(db, id, change))

const bit = (b: boolean | undefined) => (b === undefined ? null : b ? 1 : 0)

/** Deletes a provider, its identities (cascade) and everything it signed in; false if none. */
export const providerDeletion = (db: D1Database, id: string): Query<boolean> => ({
  statements: [
    ...endProviderSignins(db, id),
    db.prepare('DELETE FROM identity_providers WHERE id = ?1').bind(id),
  ],
  read: (results) => (results.at(-1)?.meta.changes ?? 0) > 0,
})

export const deleteProvider = (db: D1Database, id: string) => run(db, providerDeletion(db, id))

export type Identity = {
  provider_id: string
  provider_name: string
  issuer: string
  email: string
  created_at: string
}

export const identitiesOf = (db: D1Database, userId: string): Query<Identity[]> =>
  allRows(
    db
      .prepare(
        `SELECT i.provider_id, p.name AS provider_name, i.issuer, i.email, i.created_at
         FROM identities i JOIN identity_providers p ON p.id = i.provider_id
         WHERE i.user_id = ?1 ORDER BY i.created_at, i.provider_id`,
      )
      .bind(userId),
    (i: Identity) => i,
  )

/** The local user an upstream identity (issuer, sub) is linked to, if any. */
export const identityOwner = (db: D1Database, issuer: string, subject: string) =>
  db
    .prepare('SELECT user_id FROM identities WHERE issuer = ?1 AND subject = ?2')
    .bind(issuer, subject)
    .first<string>('user_id')

/**
 * Links an identity to an enabled user, in one statement that also requires the provider to be
 * enabled and still at this issuer; nothing when the identity is linked already or the user has
 * one from this provider. `strict`: such a conflict fails the statement (and its batch) instead,
 * as for a new account, which must not be created without its identity.
 */
export const linkIdentity = (
  db: D1Database,
  l: { providerId: string; issuer: string; subject: string; userId: string; email: string },
  strict = false,
) =>
  db
    .prepare(
      `INSERT INTO identities (issuer, subject, provider_id, user_id, email, created_at)
       SELECT ?1, ?2, p.id, u.id, ?5, ?6 FROM identity_providers p, users u
       WHERE p.id = ?3 AND p.enabled = 1 AND p.issuer = ?1 AND u.id = ?4 AND u.disabled = 0
       ${strict ? '' : 'ON CONFLICT DO NOTHING'}`,
    )
    .bind(l.issuer, l.subject, l.providerId, l.userId, l.email, isoTime())

/**
 * Unlinks a user's identity from a provider, unless it is their last way to sign in: they keep a
 * password (`hasPassword`, SQL on `users`) or another identity; with its audit event, written
 * just before the delete under the delete's own guard, so it records exactly an unlink that
 * happens. Null when there was none; 'last' when refused.
 */
export function identityUnlinking(
  db: D1Database,
  userId: string,
  providerId: string,
  hasPassword: string,
  by: Attribution,
): Query<'unlinked' | 'last' | null> {
  // ?1/?6: the user, ?2/?7: the provider (the delete's and auditUserEvent's numbering).
  const guard = (u: string, p: string) =>
    `EXISTS (SELECT 1 FROM users WHERE id = ${u} AND ${hasPassword})
     OR EXISTS (SELECT 1 FROM identities o WHERE o.user_id = ${u} AND o.provider_id <> ${p})`
  const linked = 'EXISTS (SELECT 1 FROM identities l WHERE l.user_id = ?6 AND l.provider_id = ?7)'
  const statements = [
    auditUserEvent(
      db,
      'identity_unlinked',
      userId,
      by,
      `${linked} AND (${guard('?6', '?7')})`,
      providerId,
    ),
    db
      .prepare(
        `DELETE FROM identities WHERE user_id = ?1 AND provider_id = ?2 AND (${guard('?1', '?2')})`,
      )
      .bind(userId, providerId),
    db
      .prepare('SELECT 1 FROM identities WHERE user_id = ?1 AND provider_id = ?2')
      .bind(userId, providerId),
  ]
  const read = ([, deleted, exists]: D1Result[]) => {
    if ((deleted?.meta.changes ?? 0) > 0) return 'unlinked'
    return (exists?.results.length ?? 0) > 0 ? 'last' : null
  }
  return { statements, read }
}

/** For the hourly purge: sign-ins at a provider that were never completed. */
export const purgeFederationRequests = (db: D1Database, now: number) =>
  db.prepare('DELETE FROM federation_requests WHERE expires_at <= ?1').bind(now)

/** The single-use row of a sign-in or linking in progress at a provider (docs/data.md). */
export type FederationRequest = {
  provider_id: string
  binding_hash: string
  pending: string | null
  user_id: string | null
  nonce: string
  code_verifier: string
  expires_at: number
}

/** The request row, written only while its provider is enabled. */
export const insertFederationRequest = (
  db: D1Database,
  r: {
    stateHash: string
    providerId: string
    bindingHash: string
    pending: string | null
    userId: string | null
    nonce: string
    codeVerifier: string
    expiresAt: number
  },
) =>
  db
    .prepare(
      `INSERT INTO federation_requests
         (state_hash, provider_id, binding_hash, pending, user_id, nonce, code_verifier, expires_at)
       SELECT ?1, id, ?3, ?4, ?5, ?6, ?7, ?8 FROM identity_providers WHERE id = ?2 AND enabled = 1`,
    )
    .bind(
      r.stateHash,
      r.providerId,
      r.bindingHash,
      r.pending,
      r.userId,
      r.nonce,
      r.codeVerifier,
      r.expiresAt,
    )

/** The request `stateHash` names at provider `providerId`, deleted as it is read: single use. */
export const spendFederationRequest = (db: D1Database, stateHash: string, providerId: string) =>
  db
    .prepare(
      'DELETE FROM federation_requests WHERE state_hash = ?1 AND provider_id = ?2 RETURNING *',
    )
    .bind(stateHash, providerId)
    .first<FederationRequest>()

export const deleteFederationRequest = async (db: D1Database, stateHash: string) => {
  await db.prepare('DELETE FROM federation_requests WHERE state_hash = ?1').bind(stateHash).run()
}
