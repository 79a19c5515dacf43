-- Client credentials and the device flow (issue 13).

-- A client's own access tokens (client credentials, RFC 6749 §4.4) have no session to end, so
-- revoking one (RFC 7009) records its jti here until it would have expired anyway. The Bearer
-- check reads this with the client's row, in the same statement.
CREATE TABLE revoked_client_tokens (
  jti        TEXT PRIMARY KEY,
  client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_client_tokens_expires ON revoked_client_tokens (expires_at);
CREATE INDEX revoked_client_tokens_client ON revoked_client_tokens (client_id);
