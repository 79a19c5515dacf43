-- Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25
-- authorization, "Client ID Metadata Documents"): a client whose client_id is an https URL, at
-- which it publishes its own metadata. docs/data.md says what each column holds.
--
-- Such a client keeps a row in `clients`, as every client does: sessions, authorization codes,
-- consents and device codes reference clients (client_id) (migrations 0002, 0004), and the
-- statements that issue and redeem codes join the client's row to check it is enabled. The row
-- is the cache of the document: public (it holds no secret; the CHECKs of 0002 tie a confidential
-- client to a secret hash), never first-party, never vetted. How such a client authenticates at
-- the token endpoint, and when its document must be fetched again, live here, beside the row.
CREATE TABLE client_metadata (
  client_id                  TEXT PRIMARY KEY REFERENCES clients (client_id) ON DELETE CASCADE,
  -- What the document says; 'none' when it says nothing (a public client). Shared secrets are
  -- refused (the draft's "Credential and Key Material Restrictions").
  token_endpoint_auth_method TEXT NOT NULL
    CHECK (token_endpoint_auth_method IN ('none', 'private_key_jwt')),
  -- JSON array of the public JWKs that may sign its assertions (RFC 7523 §2.2): the document's
  -- `jwks`, or what its `jwks_uri` served when the document was fetched; NULL for 'none'.
  jwks                       TEXT,
  jwks_uri                   TEXT,
  fetched_at                 INTEGER NOT NULL,
  -- Until when the row may be used without fetching the document again (its Cache-Control,
  -- at most a day).
  expires_at                 INTEGER NOT NULL,
  CHECK ((token_endpoint_auth_method = 'none') = (jwks IS NULL))
);

-- A Client ID Metadata Document client is never vetted nor first-party: whatever an
-- administrator or a script tries, in the statement that would make it so. Registered clients'
-- ids are random base64url (or a seed's fixed name) and never start with a URL scheme.
CREATE TRIGGER clients_metadata_document_unvetted BEFORE UPDATE OF vetted, first_party ON clients
WHEN (NEW.vetted = 1 OR NEW.first_party = 1)
  AND (NEW.client_id LIKE 'https://%' OR NEW.client_id LIKE 'http://%')
BEGIN
  SELECT RAISE(ABORT, 'A Client ID Metadata Document client is never vetted or first-party');
END;
CREATE TRIGGER clients_metadata_document_unvetted_insert BEFORE INSERT ON clients
WHEN (NEW.vetted = 1 OR NEW.first_party = 1)
  AND (NEW.client_id LIKE 'https://%' OR NEW.client_id LIKE 'http://%')
BEGIN
  SELECT RAISE(ABORT, 'A Client ID Metadata Document client is never vetted or first-party');
END;

-- Consent to a metadata-document client is remembered per redirect host as well (MCP
-- 2025-11-25, "Localhost Redirect URI Risks"): anyone can name a well-known client's URL with a
-- redirect URI of their own, so consent given for one host is not consent for another. The
-- consents row (0002) keeps the union of the scopes, for listing and withdrawing; withdrawing
-- it withdraws these with it.
CREATE TABLE consent_hosts (
  user_id       TEXT NOT NULL,
  client_id     TEXT NOT NULL,
  -- The redirect URI's host (with its port) for https, its hostname for loopback http (any port,
  -- RFC 8252 §7.3), its scheme for a private-use URI.
  redirect_host TEXT NOT NULL,
  scope         TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  PRIMARY KEY (user_id, client_id, redirect_host),
  FOREIGN KEY (user_id, client_id) REFERENCES consents (user_id, client_id) ON DELETE CASCADE
);

-- The `jti` of every client assertion accepted (RFC 7523 §3 item 7), until its `exp`: the INSERT
-- that records one is the check that it was not used before. No foreign key: a deleted and
-- re-fetched client must not get its used assertions back.
CREATE TABLE client_assertions (
  client_id  TEXT NOT NULL,
  jti        TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertions_expires ON client_assertions (expires_at);
