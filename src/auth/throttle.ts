import type { Config } from '../config'
import {
  countFailure,
  forgetCounter,
  lockedUntil,
  openCounter,
  refundFailure,
  startLock,
} from '../db/login-failures'
import { ApiError } from '../domain/errors'
import { addressKey, fromThisMachine, type Requester } from '../domain/requester'
import { USERNAME } from '../http/schemas/common'
import { nowSeconds } from '../lib/time'

/**
 * Brute-force throttling, kept in D1 (table login_failures) so that it holds across isolates and
 * colos. A password check (./login.ts) is charged to two keys:
 *
 * - the username, lowercased so that case variants share one counter, and whether or not the user
 *   exists: the LOGIN_MAX_FAILURES-th attempt since the last success locks it for
 *   LOGIN_LOCKOUT_SECONDS, doubled for each further lockout and capped at 15 minutes. A success
 *   deletes the counter; the hourly purge deletes counters idle for a day, lockouts and all.
 *   A string that breaks the username rule has no counter: no user can have it, so there is
 *   nothing to protect, and it may be a password typed into the username field, which must not
 *   be stored. The address still counts it.
 * - the client address (CF-Connecting-IP, which the edge sets; X-Forwarded-For is client input),
 *   an IPv6 address by its /64 (`addressKey` in ../domain/requester.ts): the 101st attempt in
 *   15 minutes locks it for 15 minutes. A success only refunds its own charge, so one valid
 *   account cannot wipe a spray's failures. Without the header (a request that came through
 *   neither the edge nor `wrangler dev`, which both set it) there is no address to count.
 *
 * A self-registration (../api/register.ts) is charged to `signup:<address key>`, 10 an hour,
 * and an RFC 7591 client registration (../oauth/clients/routes.ts) to
 * `client-signup:<address key>`, except from this machine (local development:
 * `clientRegistrationAttempt`). A user code guessed on the device page
 * (../oauth/device/routes.tsx) is charged to the browser and the address (userCodeAttempt);
 * while the address is locked, a signed-in person's to the browser and the account instead
 * (signedInCodeAttempt).
 *
 * `run` is the one way in: it charges an attempt in the same batch as the statements its caller
 * needs (the user lookup) and hands back their results by name, with a `Charge` that knows what a
 * success must write and which locks the attempt started.
 *
 * An attempt is charged BEFORE its password is compared (or hashed), in the batch that reads the
 * user, so that concurrent attempts cannot all see "unlocked": each count is a relative update,
 * and the attempt whose count reaches the limit starts the lock there and then. That attempt is
 * still compared (the 5th wrong password is a 400, the 6th a 429); if it succeeds, the success
 * lifts the lock it started. However many attempts arrive at once, at most the limit are compared.
 * An attempt that finds any of its keys locked is refused with 429 and counted against none: a
 * lock neither reveals the password nor extends itself.
 */

type Rule = {
  /** The attempt that starts a lock. */
  limit: number
  /** Attempts older than this no longer count. */
  windowSeconds: number
  /** The first lock's length; each further lock doubles it, up to maxLockSeconds. */
  lockSeconds: number
  maxLockSeconds: number
  /** What a successful check does to the counter: forget it all, or take back its own attempt. */
  onSuccess: 'forget' | 'refund'
  /** Names the key in the lockout audit event. */
  what: string
  /** The 429's description. */
  refusal: string
}

const FAILED = 'Too many failed attempts; try again later.'

const IP_RULE: Rule = {
  limit: 101,
  windowSeconds: 900,
  lockSeconds: 900,
  maxLockSeconds: 900,
  onSuccess: 'refund',
  what: 'client address',
  refusal: FAILED,
}
// Every registration counts, successful or not: it is the bcrypt hash that is being limited.
const SIGNUP_RULE: Rule = {
  limit: 10,
  windowSeconds: 3600,
  lockSeconds: 3600,
  maxLockSeconds: 3600,
  onSuccess: 'refund',
  what: 'sign-ups from the client address',
  refusal: 'Too many registrations from this address; try again later.',
}

/** The keys one attempt is charged to (none: nothing to count), and the time it is judged at. */
export type Attempt = { keys: { key: string; rule: Rule }[]; now: number }

const attempt = (keys: Attempt['keys']): Attempt => ({ keys, now: nowSeconds() })

export function passwordAttempt(cfg: Config, client: Requester, username: string): Attempt {
  const userRule: Rule = {
    limit: cfg.loginMaxFailures,
    windowSeconds: 86_400,
    lockSeconds: cfg.loginLockoutSeconds,
    maxLockSeconds: 900,
    onSuccess: 'forget',
    what: 'username',
    refusal: FAILED,
  }
  return attempt([
    ...(USERNAME.test(username) ? [{ key: `user:${username.toLowerCase()}`, rule: userRule }] : []),
    ...(client.address ? [{ key: `ip:${addressKey(client.address)}`, rule: IP_RULE }] : []),
  ])
}

/**
 * A passkey sign-in (src/oauth/browser/passkey.tsx): charged to the client address, with the
 * password failures, before the signature is checked; a success takes back its own charge. Not to
 * a username: an assertion cannot be guessed, and a passkey must keep working while someone
 * keeps the username locked with wrong passwords (docs/security.md, "Passkeys").
 */
export const passkeyAttempt = (client: Requester): Attempt =>
  attempt(client.address ? [{ key: `ip:${addressKey(client.address)}`, rule: IP_RULE }] : [])

/** Without a client address there is nothing to count registrations by. */
export const signupAttempt = (client: Requester): Attempt =>
  attempt(
    client.address ? [{ key: `signup:${addressKey(client.address)}`, rule: SIGNUP_RULE }] : [],
  )

/**
 * RFC 7591 registrations (POST /auth/clients): `client-signup:<address key>`, 10 an hour. Local
 * development is not counted: under `npm run dev` every request carries the loopback address
 * `wrangler dev` sets, and a client under development registers itself on every run. In
 * production the edge sets the visitor's address, never a loopback one.
 */
export const clientRegistrationAttempt = (client: Requester): Attempt =>
  attempt(
    client.address && !fromThisMachine(client)
      ? [{ key: `client-signup:${addressKey(client.address)}`, rule: SIGNUP_RULE }]
      : [],
  )

// RFC 8628 §5.1: a user code has about 34.6 bits, so a guesser gets few tries: 5 wrong codes
// per browser (its sign-in cookie) and 20 per address in 15 minutes, then 15 minutes' wait. A
// right code takes back only its own try.
const USER_CODE_RULE: Rule = {
  limit: 5,
  windowSeconds: 900,
  lockSeconds: 900,
  maxLockSeconds: 900,
  onSuccess: 'refund',
  what: 'user codes from this browser',
  refusal: 'Too many wrong codes; try again in 15 minutes.',
}
const USER_CODE_IP_RULE: Rule = {
  ...USER_CODE_RULE,
  limit: 20,
  what: 'user codes from the address',
}

/**
 * A user code typed on the device verification page: `device:<browser>` (a digest of the
 * browser's cookie, src/oauth/browser/signin.ts) and `device-ip:<address key>`.
 */
export const userCodeAttempt = (client: Requester, browser: string): Attempt =>
  attempt([
    { key: `device:${browser}`, rule: USER_CODE_RULE },
    ...(client.address
      ? [{ key: `device-ip:${addressKey(client.address)}`, rule: USER_CODE_IP_RULE }]
      : []),
  ])

// The same limit per account: a guesser cannot mint accounts as freely as cookies.
const USER_CODE_ACCOUNT_RULE: Rule = {
  ...USER_CODE_RULE,
  what: 'user codes from this account',
}

/**
 * A user code typed by a person signed in here while the address is locked (docs/security.md): the
 * lock is there against guessing codes, and a shared address (a NAT) may be locked by someone
 * else's guesses. `device:<browser>` and `device-user:<user id>`, each 5 wrong codes in 15 minutes:
 * the account, which no one else can lock, takes the address's place, and bounds a guesser who
 * signs in to many browsers as tightly as one browser.
 */
export const signedInCodeAttempt = (browser: string, userId: string): Attempt =>
  attempt([
    { key: `device:${browser}`, rule: USER_CODE_RULE },
    { key: `device-user:${userId}`, rule: USER_CODE_ACCOUNT_RULE },
  ])

// Naming a user by username (sharing a list, adding a team member) says whether that username
// exists, so it is rationed like a guess: 30 per account and 60 per address in 15 minutes, every
// call counted (a hit is what an enumeration is after), then 15 minutes' wait.
const USERNAME_RULE: Rule = {
  limit: 30,
  windowSeconds: 900,
  lockSeconds: 900,
  maxLockSeconds: 900,
  onSuccess: 'refund',
  what: 'usernames named by this account',
  refusal: 'Too many usernames tried; try again in 15 minutes.',
}
const USERNAME_IP_RULE: Rule = {
  ...USERNAME_RULE,
  limit: 60,
  what: 'usernames named from the address',
}

/**
 * A user named by username in a share or a team change: `by-username:<user id>` and
 * `by-username-ip:<address key>` (src/api/lists.ts, src/api/teams.ts).
 */
export const usernameAttempt = (client: Requester, actorId: string): Attempt =>
  attempt([
    { key: `by-username:${actorId}`, rule: USERNAME_RULE },
    ...(client.address
      ? [{ key: `by-username-ip:${addressKey(client.address)}`, rule: USERNAME_IP_RULE }]
      : []),
  ])

const keysOf = (a: Attempt): [string | null, string | null] => [
  a.keys[0]?.key ?? null,
  a.keys[1]?.key ?? null,
]

const tooManyAttempts = (a: Attempt, seconds: number) =>
  new ApiError('too_many_attempts', a.keys[0]?.rule.refusal ?? FAILED, {
    headers: { 'Retry-After': String(Math.max(1, seconds)) },
  })

const readLocks = (db: D1Database, a: Attempt) => lockedUntil(db, keysOf(a))

/** 429 with Retry-After while any of the attempt's keys is locked. */
function refuseWhileLocked(a: Attempt, locks: { locked_until: number }[]): void {
  const lockedUntil = Math.max(0, ...locks.map((r) => r.locked_until))
  if (lockedUntil > a.now) throw tooManyAttempts(a, lockedUntil - a.now)
}

/** What charging did to an attempt's keys, and what follows from it. */
export type Charge = {
  /** The writes a successful check makes to the counters; to batch with its other writes. */
  settleSuccess(db: D1Database): D1PreparedStatement[]
  /** For the audit trail: the locks this attempt started, e.g. "username locked for 60 s". */
  locksStarted: string[]
}

type Statements = Record<string, D1PreparedStatement>
export type Results<S extends Statements> = { [K in keyof S]: D1Result }

const named = <S extends Statements>(statements: S, results: D1Result[]): Results<S> =>
  Object.fromEntries(Object.keys(statements).map((name, i) => [name, results[i]!])) as Results<S>

/**
 * Runs `statements` and charges the attempt to its keys in ONE batch (one transaction), before
 * anything is compared or hashed; 429 with Retry-After, and nothing charged, when a key is
 * locked. The statements run first, so they see the state before the charge.
 */
export async function run<S extends Statements>(
  db: D1Database,
  a: Attempt,
  statements: S,
): Promise<{ results: Results<S>; charge: Charge }> {
  const own = Object.values(statements)
  const charging =
    a.keys.length === 0
      ? []
      : [
          ...a.keys.map(({ key }) => openCounter(db, key, a.now)),
          ...a.keys.map(({ key, rule }) =>
            countFailure(db, key, a.now, keysOf(a), rule.windowSeconds),
          ),
          ...a.keys.map(({ key, rule }) => startLock(db, key, a.now, rule)),
          readLocks(db, a),
        ]
  const all = await db.batch([...own, ...charging])
  const results = named(statements, all)
  const [, counted, locked, locks] = groups(all.slice(own.length), a.keys.length)
  const rows = <T>(r: D1Result | undefined) => (r?.results ?? []) as T[]
  if (a.keys.length > 0 && rows(counted[0]).length === 0) {
    // The guard held back every count: a key was locked.
    const until = rows<{ locked_until: number }>(locks[0]).map((r) => r.locked_until)
    throw tooManyAttempts(a, Math.max(0, ...until) - a.now)
  }
  const counts = a.keys.map(({ key, rule }, i) => ({
    key,
    rule,
    windowStart: rows<{ window_start: number }>(counted[i])[0]!.window_start,
    startedLock: rows<{ locked_until: number }>(locked[i])[0]?.locked_until ?? null,
  }))
  return {
    results,
    charge: {
      settleSuccess: (db) =>
        counts.map(({ key, rule, windowStart, startedLock }) =>
          rule.onSuccess === 'forget'
            ? forgetCounter(db, key)
            : refundFailure(db, key, windowStart, startedLock ?? -1, rule.limit),
        ),
      locksStarted: counts.flatMap(({ rule, startedLock }) =>
        startedLock === null ? [] : [`${rule.what} locked for ${startedLock - a.now} s`],
      ),
    },
  }
}

/** The charge's results in their four runs: the opens, the counts, the locks, the lock read. */
const groups = (r: D1Result[], n: number) =>
  [r.slice(0, n), r.slice(n, 2 * n), r.slice(2 * n, 3 * n), r.slice(3 * n)] as const

/**
 * Runs `statements` with a read of the attempt's locks and charges nothing: for credentials
 * that need no compare (../auth/credential-cache.ts). 429 while a key is locked.
 */
export async function peek<S extends Statements>(
  db: D1Database,
  a: Attempt,
  statements: S,
): Promise<Results<S>> {
  const own = Object.values(statements)
  const all = await db.batch([...own, readLocks(db, a)])
  refuseWhileLocked(a, (all.at(-1)?.results ?? []) as { locked_until: number }[])
  return named(statements, all)
}
