import type { Requester } from '../domain/requester'
import { randomToken, sha256Hex } from '../lib/crypto'
import { nowSeconds } from '../lib/time'
import { type RedeemedSession, redeemIntoSession } from './sessions'

/**
 * Device authorization requests (RFC 8628). The device code is 256 random bits, stored only as
 * SHA-256. The user code is 8 letters from an alphabet with no vowels and no look-alikes
 * (§6.1: 20^8 ≈ 2^34.6 codes, and guesses are throttled, §5.1), shown as `WDJB-MJHT` and
 * compared without case or dash.
 */
export const DEVICE_CODE_TTL = 600
/** The polling interval a client starts with (§3.2); each slow_down adds 5 s (§3.5). */
export const POLL_INTERVAL = 5
const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ'
const USER_CODE = new RegExp(`^[${ALPHABET}]{8}$`)

/** A user code as typed (any case, dashes, spaces) in its stored form, or null if it cannot be. */
export function normalizeUserCode(typed: string): string | null {
  const code = typed.toUpperCase().replace(/[\s-]/g, '')
  return USER_CODE.test(code) ? code : null
}

/** As shown to people: `WDJB-MJHT`. */
export const formatUserCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`

function newUserCode(): string {
  // 256 is not a multiple of 20: bytes from 240 up are dropped, so every letter is equally likely.
  const letters: string[] = []
  while (letters.length < 8) {
    for (const b of crypto.getRandomValues(new Uint8Array(16))) {
      if (b < 240 && letters.length < 8) letters.push(ALPHABET[b % 20]!)
    }
  }
  return letters.join('')
}

export type DeviceRequest = {
  user_code: string
  client_id: string
  client_name: string
  scope: string
  request_ip: string | null
  request_ua: string | null
  created_at: number
  expires_at: number
}

/**
 * Starts a device authorization for an enabled client: its device code and user code. A user
 * code that happens to be taken by a live request is drawn again.
 */
export async function createDeviceRequest(
  db: D1Database,
  r: {
    clientId: string
    scope: string
    ip: string | null
    userAgent: string | null
    /** RFC 8707: the resource asked for, canonical; null for none. */
    resource?: string | null
  },
): Promise<{ deviceCode: string; userCode: string } | null> {
  const now = nowSeconds()
  for (let tries = 0; tries < 3; tries++) {
    const deviceCode = randomToken()
    const userCode = newUserCode()
    const inserted = await db
      .prepare(
        `INSERT INTO device_codes (device_code_hash, user_code, client_id, scope, request_ip,
           request_ua, created_at, expires_at, poll_interval, resource)
         SELECT ?1, ?2, client_id, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM clients
         WHERE client_id = ?3 AND disabled = 0
         ON CONFLICT (user_code) DO NOTHING
         RETURNING user_code`,
      )
      .bind(
        await sha256Hex(deviceCode),
        userCode,
        r.clientId,
        r.scope,
        r.ip,
        r.userAgent,
        now,
        now + DEVICE_CODE_TTL,
        POLL_INTERVAL,
        r.resource ?? null,
      )
      .first()
    if (inserted) return { deviceCode, userCode }
  }
  return null
}

/**
 * The statement that finds a pending, unexpired request of an enabled client by its normalised
 * user code: to batch with the throttle's charge for the guess (src/auth/throttle.ts).
 */
export const pendingRequest = (db: D1Database, userCode: string, now: number) =>
  db
    .prepare(
      `SELECT d.user_code, d.client_id, k.client_name, d.scope, d.request_ip, d.request_ua,
         d.created_at, d.expires_at
       FROM device_codes d JOIN clients k ON k.client_id = d.client_id
       WHERE d.user_code = ?1 AND d.status = 'pending' AND d.expires_at > ?2 AND k.disabled = 0`,
    )
    .bind(userCode, now)

export const findPendingRequest = (db: D1Database, userCode: string) =>
  pendingRequest(db, userCode, nowSeconds()).first<DeviceRequest>()

/**
 * Records the user's answer to a pending request: approval (with the scope granted and the user
 * row's stamp, read in the same statement, where the browser's sign-in `signin` must still hold
 * for this user) or denial. False when the request is no longer pending, or the sign-in gone.
 */
export async function decideDeviceRequest(
  db: D1Database,
  d: { userCode: string; userId: string; signin: string; approve: boolean; scope: string },
): Promise<boolean> {
  const decided = await db
    .prepare(
      `UPDATE device_codes SET status = ?4, user_id = u.id, user_updated_at = u.updated_at,
         granted_scope = ?5
       FROM signins s JOIN users u ON u.id = s.user_id
       WHERE device_codes.user_code = ?1 AND device_codes.status = 'pending'
         AND device_codes.expires_at > ?3
         AND s.token_hash = ?6 AND s.user_id = ?2 AND s.expires_at > ?3
         AND u.disabled = 0 AND u.updated_at = s.user_updated_at
       RETURNING device_codes.user_code`,
    )
    .bind(
      d.userCode,
      d.userId,
      nowSeconds(),
      d.approve ? 'approved' : 'denied',
      d.approve ? d.scope : null,
      await sha256Hex(d.signin),
    )
    .first()
  return decided !== null
}

export type Poll =
  | { kind: 'pending'; slowDown: boolean }
  | { kind: 'approved'; userId: string; scope: string; resource: string | null }
  | { kind: 'denied' | 'expired' | 'invalid' }

/**
 * One poll (RFC 8628 §3.4-3.5), in one statement: it records the poll and, when it came sooner
 * than the interval after the last one, adds 5 s to the interval and marks it slow_down.
 */
export async function pollDeviceCode(
  db: D1Database,
  deviceCodeHash: string,
  clientId: string,
): Promise<Poll> {
  const now = nowSeconds()
  const row = await db
    .prepare(
      `UPDATE device_codes SET
         slowed_at = CASE WHEN ?3 - last_polled_at < poll_interval THEN ?3 END,
         poll_interval = CASE WHEN ?3 - last_polled_at < poll_interval
           THEN poll_interval + 5 ELSE poll_interval END,
         last_polled_at = ?3
       WHERE device_code_hash = ?1 AND client_id = ?2
       RETURNING status, expires_at, slowed_at IS NOT NULL AS slow, user_id, granted_scope,
         resource`,
    )
    .bind(deviceCodeHash, clientId, now)
    .first<{
      status: string
      expires_at: number
      slow: number
      user_id: string | null
      granted_scope: string | null
      resource: string | null
    }>()
  if (!row || row.status === 'redeemed') return { kind: 'invalid' }
  if (row.status === 'approved' && row.expires_at > now)
    return {
      kind: 'approved',
      userId: row.user_id!,
      scope: row.granted_scope!,
      resource: row.resource,
    }
  if (row.expires_at <= now) return { kind: 'expired' }
  if (row.status === 'denied') return { kind: 'denied' }
  return { kind: 'pending', slowDown: row.slow === 1 }
}

/**
 * Redeems an approved device code into its session (redeemIntoSession, ./sessions.ts): the claim
 * is one conditional UPDATE (status = 'approved', not expired, this client); the session is
 * inserted only if the user is still enabled and unchanged since the approval
 * (`deviceCodeHash`). Null when another poll redeemed it first, it expired, or the user or client
 * was disabled or changed.
 */
export async function redeemDeviceCode(
  db: D1Database,
  r: {
    deviceCodeHash: string
    clientId: string
    userId: string
    scope: string
    resource: string | null
    refreshHash: string
    ttl: number
    from?: Requester
  },
): Promise<RedeemedSession | null> {
  const now = nowSeconds()
  const { redeemed } = await redeemIntoSession(
    db,
    (sessionId) =>
      db
        .prepare(
          `UPDATE device_codes SET status = 'redeemed', session_id = ?3
           WHERE device_code_hash = ?1 AND client_id = ?2 AND status = 'approved'
             AND expires_at > ?4`,
        )
        .bind(r.deviceCodeHash, r.clientId, sessionId, now),
    { ...r, now },
  )
  return redeemed
}

/** For the hourly purge: requests past their lifetime, whatever became of them. */
export const purgeDeviceCodes = (db: D1Database, now: number) =>
  db.prepare('DELETE FROM device_codes WHERE expires_at <= ?1').bind(now)
