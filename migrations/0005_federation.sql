-- Sign-in with upstream OpenID Connect providers (issue 15): the providers, the identities they
-- vouch for, the short-lived state of a sign-in in flight, and which sign-ins and sessions a
-- provider made (so that disabling it ends them).

CREATE TABLE identity_providers (
  id               TEXT PRIMARY KEY,        -- slug used in URLs: /auth/federate/{id}
  name             TEXT NOT NULL,           -- shown as "Continue with {name}"
  issuer           TEXT NOT NULL,           -- discovery: {issuer}/.well-known/openid-configuration
  client_id        TEXT NOT NULL,
  -- AES-256-GCM under a key derived from the Worker secret IDP_SECRET_KEY: base64url(iv).base64url
  -- (ciphertext and tag). A database dump alone does not reveal it; no API ever returns it.
  client_secret    TEXT NOT NULL,
  scopes           TEXT NOT NULL DEFAULT 'openid email profile',
  allow_signup     INTEGER NOT NULL DEFAULT 0 CHECK (allow_signup IN (0, 1)),
  allowed_domains  TEXT NOT NULL DEFAULT '[]',  -- JSON array of lower-case domains; [] = any
  trusted_email    INTEGER NOT NULL DEFAULT 0 CHECK (trusted_email IN (0, 1)),
  enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE INDEX identity_providers_created ON identity_providers (created_at);
-- The login page's "Continue with" links, in order.
CREATE INDEX identity_providers_enabled ON identity_providers (enabled, name, id);

-- An upstream identity is the pair (issuer, sub) (OIDC Core §2: sub is unique only within its
-- issuer), never an email. One identity per provider per user, so that it can be unlinked by name.
CREATE TABLE identities (
  issuer      TEXT NOT NULL,
  subject     TEXT NOT NULL,
  provider_id TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
  user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  email       TEXT NOT NULL DEFAULT '',     -- as the provider last said, for the account page
  created_at  TEXT NOT NULL,
  PRIMARY KEY (issuer, subject)
);
CREATE UNIQUE INDEX identities_user_provider ON identities (user_id, provider_id);
CREATE INDEX identities_provider ON identities (provider_id);

-- A sign-in in flight at a provider, by SHA-256 of its `state` only: single use (deleted by the
-- callback that reads it), short lived, bound to the browser (SHA-256 of its cookie) and to the
-- pending authorization request, or to the account that links it (user_id).
CREATE TABLE federation_requests (
  state_hash    TEXT PRIMARY KEY,
  provider_id   TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
  binding_hash  TEXT NOT NULL,
  pending       TEXT,                       -- the pending authorization request (JSON), or NULL
  user_id       TEXT REFERENCES users (id) ON DELETE CASCADE,  -- linking from the account
  nonce         TEXT NOT NULL,
  code_verifier TEXT NOT NULL,              -- PKCE (RFC 7636), sent only to the provider
  expires_at    INTEGER NOT NULL,
  CHECK ((pending IS NULL) <> (user_id IS NULL))
);
CREATE INDEX federation_requests_expires ON federation_requests (expires_at);
CREATE INDEX federation_requests_provider ON federation_requests (provider_id);
CREATE INDEX federation_requests_user ON federation_requests (user_id) WHERE user_id IS NOT NULL;

-- A provider trusted for email links an identity to the one account with that email.
CREATE INDEX users_email ON users (email COLLATE NOCASE);

-- What a provider signed in: its browser sign-ins, the codes issued under them and the sessions
-- those codes gave, so that disabling or deleting the provider ends them.
ALTER TABLE signins ADD COLUMN provider_id TEXT
  REFERENCES identity_providers (id) ON DELETE CASCADE;
CREATE INDEX signins_provider ON signins (provider_id) WHERE provider_id IS NOT NULL;
ALTER TABLE authorization_codes ADD COLUMN provider_id TEXT
  REFERENCES identity_providers (id) ON DELETE SET NULL;
CREATE INDEX authorization_codes_provider ON authorization_codes (provider_id)
  WHERE provider_id IS NOT NULL;
ALTER TABLE sessions ADD COLUMN provider_id TEXT
  REFERENCES identity_providers (id) ON DELETE SET NULL;
CREATE INDEX sessions_provider ON sessions (provider_id) WHERE provider_id IS NOT NULL;
