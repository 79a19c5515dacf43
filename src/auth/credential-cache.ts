/**
 * Remembers, in this isolate, that a username and password were verified, so that HTTP Basic —
 * which resends them with every request — does not pay a bcrypt compare each time.
 *
 * - Keys are HMAC-SHA-256 of the credentials under a random key generated in this isolate and
 *   never extractable: the map holds no password, nor anything to guess one from offline.
 * - An entry stores the password hash it was verified against and only counts while the user's
 *   stored hash is still that one. The caller has just read the row (and checked that the user is
 *   enabled and not locked), so a password change, disabling, deletion or lockout ends it at once.
 * - At most TTL_MS old and MAX_ENTRIES many; the oldest goes first.
 * - Concurrent checks of the same credentials in this isolate take turns (`takeTurn`): a client
 *   that opens several requests at once with the same Basic credentials pays one compare and one
 *   throttling charge — the others then find the entry — rather than looking like a burst of
 *   guesses and meeting the lock. They wait by polling, not by awaiting the first request's
 *   promise: workerd cancels a request that awaits a promise of another request which ends (or is
 *   cancelled) before settling it.
 */

const TTL_MS = 60_000
const MAX_ENTRIES = 1_000

const entries = new Map<string, { passwordHash: string; expires: number }>()
const inFlight = new Set<string>()
const POLL_MS = 10
const MAX_WAIT_MS = 2_000
// Generated on first use: Workers allow no randomness at global scope.
let hmacKey: Promise<CryptoKey> | undefined

const encoder = new TextEncoder()

async function entryKey(username: string, password: string): Promise<string> {
  hmacKey ??= crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]) as Promise<CryptoKey>
  // Length-prefixed, so that no two (username, password) pairs give the same input.
  const mac = await crypto.subtle.sign(
    'HMAC',
    await hmacKey,
    encoder.encode(`${username.length}:${username}:${password}`),
  )
  return String.fromCharCode(...new Uint8Array(mac))
}

export type RememberedCredential = {
  /** True when these credentials were verified within the TTL, against whatever hash. */
  recalled(): boolean
  /** True when these credentials were verified within the TTL against exactly this hash. */
  verifiedAgainst(passwordHash: string): boolean
  remember(passwordHash: string): void
  /**
   * Waits until no other check of these credentials runs in this isolate (at most 2 s), then
   * claims the turn; call the function it returns when done.
   */
  takeTurn(): Promise<() => void>
}

export async function credentialCache(
  username: string,
  password: string,
): Promise<RememberedCredential> {
  const key = await entryKey(username, password)
  const live = () => {
    const entry = entries.get(key)
    if (entry && entry.expires <= Date.now()) entries.delete(key)
    return entry !== undefined && entry.expires > Date.now() ? entry : undefined
  }
  return {
    recalled: () => live() !== undefined,
    verifiedAgainst: (passwordHash) => live()?.passwordHash === passwordHash,
    remember(passwordHash) {
      entries.delete(key)
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!)
      entries.set(key, { passwordHash, expires: Date.now() + TTL_MS })
    },
    async takeTurn() {
      for (let waited = 0; inFlight.has(key) && waited < MAX_WAIT_MS; waited += POLL_MS) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      }
      // Claimed in the same synchronous step as the last look: no other request slips in between.
      inFlight.add(key)
      return () => inFlight.delete(key)
    },
  }
}
