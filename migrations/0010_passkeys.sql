-- Passkeys (WebAuthn Level 3) and the account page (/account): the credentials, the challenges
-- already answered, which passkey made a browser sign-in, where sign-ins and sessions came from,
-- and whether a user's email was set by the user. (0006 to 0009 are other branches'.)

-- A public key credential (WebAuthn §6.1 "credential record"), discoverable and made with user
-- verification. Nothing here is secret: a passkey's private key never leaves its authenticator.
CREATE TABLE passkeys (
  id           TEXT PRIMARY KEY,            -- the credential id, base64url (§6.1: ≤ 1023 bytes)
  user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         TEXT NOT NULL,               -- the person's label, 1-64 characters
  public_key   TEXT NOT NULL,               -- the COSE_Key (§6.5.1.1), base64url
  counter      INTEGER NOT NULL,            -- signCount (§6.1.1); 0 for authenticators without one
  -- The BE flag (§6.1, "backup eligible"): fixed for the life of the credential, checked at
  -- every use. The BS flag ("backed up") may change and is kept as last seen.
  device_type  TEXT NOT NULL CHECK (device_type IN ('singleDevice', 'multiDevice')),
  backed_up    INTEGER NOT NULL CHECK (backed_up IN (0, 1)),
  transports   TEXT NOT NULL DEFAULT '[]',  -- JSON array, as the browser reported them
  created_at   INTEGER NOT NULL,            -- unix seconds
  last_used_at INTEGER,
  -- SHA-256 of the challenge of the last assertion that counted: the sign-in it makes is written
  -- only if this very assertion moved the counter (src/db/passkeys.ts).
  last_challenge TEXT
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- Challenges answered (§13.4.3: each is used once). A challenge is a sealed token bound to the
-- browser, issued without a write (src/oauth/browser/passkey.ts); answering it inserts its
-- SHA-256 here, so a second answer finds it. Purged hourly once the challenge has expired anyway.
CREATE TABLE webauthn_challenges (
  challenge_hash TEXT PRIMARY KEY,
  expires_at     INTEGER NOT NULL
);
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_at);

-- The passkey a browser sign-in was made with (NULL: a password or a provider). Removing the
-- passkey ends the sign-ins it made.
ALTER TABLE signins ADD COLUMN passkey_id TEXT REFERENCES passkeys (id) ON DELETE CASCADE;
CREATE INDEX signins_passkey ON signins (passkey_id) WHERE passkey_id IS NOT NULL;

-- Where a sign-in or a session came from, for the account page: the client address by its
-- network (an IPv4 /24, an IPv6 /48; src/domain/requester.ts `addressPrefix`), never the whole
-- address, and the User-Agent (escaped, at most 256 characters). NULL for rows made before.
ALTER TABLE signins ADD COLUMN address_prefix TEXT;
ALTER TABLE signins ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN address_prefix TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;

-- 1 when the user set the email themselves (the account page, self-registration): such an
-- email is nobody's word, so it never links a trusted provider's sign-in to the account
-- (docs/federation.md). Emails an administrator set, and every email before this migration, 0.
ALTER TABLE users ADD COLUMN email_self_set INTEGER NOT NULL DEFAULT 0
  CHECK (email_self_set IN (0, 1));
