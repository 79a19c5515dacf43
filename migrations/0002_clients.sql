-- OAuth clients, authorization codes, browser sign-ins and remembered consents (issue 12).
-- Field names follow RFC 7591 wherever a column is a client metadata field.

CREATE TABLE clients (
  client_id                  TEXT PRIMARY KEY,              -- opaque, random (or fixed for a seed)
  client_secret_hash         TEXT,                          -- SHA-256 hex; NULL for public clients
  client_name                TEXT NOT NULL,
  client_type                TEXT NOT NULL CHECK (client_type IN ('public', 'confidential')),
  redirect_uris              TEXT NOT NULL,                 -- JSON array of strings
  grant_types                TEXT NOT NULL,                 -- JSON array of strings
  scope                      TEXT NOT NULL,                 -- space-separated: the most it may get
  token_endpoint_auth_method TEXT NOT NULL
    CHECK (token_endpoint_auth_method IN ('none', 'client_secret_basic', 'client_secret_post')),
  first_party                INTEGER NOT NULL DEFAULT 0 CHECK (first_party IN (0, 1)),
  disabled                   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at                 TEXT NOT NULL,
  updated_at                 TEXT NOT NULL,
  -- A public client has no secret and authenticates with "none"; a confidential one the reverse.
  CHECK ((client_type = 'public') = (token_endpoint_auth_method = 'none')),
  CHECK ((client_type = 'public') = (client_secret_hash IS NULL))
);
CREATE INDEX clients_created ON clients (created_at);

-- The web client served at / by this same Worker. Its one redirect URI is relative: "/" means
-- the issuer's own origin + "/" (src/auth/redirects.ts), so the seed works on any host.
INSERT INTO clients (client_id, client_name, client_type, redirect_uris, grant_types, scope,
  token_endpoint_auth_method, first_party, created_at, updated_at)
VALUES ('todo-web', 'todo-auth web app', 'public', '["/"]', '["authorization_code","refresh_token"]',
  'read write', 'none', 1, '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z');

-- A session remembers the client it was issued to; NULL for the legacy password grant without a
-- client. Deleting the client deletes its sessions (and their refresh tokens) by cascade.
ALTER TABLE sessions ADD COLUMN client_id TEXT REFERENCES clients (client_id) ON DELETE CASCADE;
CREATE INDEX sessions_client ON sessions (client_id, user_id) WHERE client_id IS NOT NULL;

-- Authorization codes (RFC 6749 §4.1), by SHA-256 only. Single use: used_at is claimed by one
-- conditional UPDATE, which also records the session it was exchanged for, so that presenting the
-- code again can end that session (RFC 6749 §10.5).
CREATE TABLE authorization_codes (
  code_hash      TEXT PRIMARY KEY,
  client_id      TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  redirect_uri   TEXT NOT NULL,
  code_challenge TEXT NOT NULL,   -- S256 (RFC 7636); no code is ever issued without one
  scope          TEXT NOT NULL,
  -- users.updated_at of the sign-in the code was issued under: the exchange creates a session
  -- only while the user row still carries it (no new password, reset, disable or role since).
  user_updated_at TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  used_at        INTEGER,
  session_id     TEXT
);
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);
-- Deleting a user or a client (cascade), withdrawing a consent.
CREATE INDEX authorization_codes_user ON authorization_codes (user_id, client_id);
CREATE INDEX authorization_codes_client ON authorization_codes (client_id);

-- Browser sign-ins behind the login page's cookie, by SHA-256 of the cookie only. A sign-in holds
-- while its user is enabled and unchanged since (users.updated_at, stamped by every account
-- change: a new password, disabling, a new role).
CREATE TABLE signins (
  token_hash      TEXT PRIMARY KEY,
  user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  user_updated_at TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL
);
CREATE INDEX signins_expires ON signins (expires_at);
CREATE INDEX signins_user ON signins (user_id);

-- Consent remembered per user and client, for the scopes granted (space-separated).
CREATE TABLE consents (
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  scope      TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client ON consents (client_id);
