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

-- Device authorization requests (RFC 8628 §3.1-3.5). The device code is 256 random bits, kept
-- only as SHA-256; the user code is 8 letters without look-alikes, stored normalised (upper case,
-- no dash). A request goes pending → approved | denied → redeemed; redeeming is one conditional
-- UPDATE (status = 'approved') in the batch that creates the session, which also records the
-- session, so a code gives at most one.
CREATE TABLE device_codes (
  device_code_hash TEXT PRIMARY KEY,
  user_code        TEXT NOT NULL UNIQUE,
  client_id        TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  scope            TEXT NOT NULL,   -- asked (or all the client may have), canonical
  -- Where the request came from, shown on the verification page (RFC 8628 §5.4).
  request_ip       TEXT,
  request_ua       TEXT,
  created_at       INTEGER NOT NULL,
  expires_at       INTEGER NOT NULL,
  poll_interval    INTEGER NOT NULL,  -- seconds; grows by 5 on each slow_down (§3.5)
  last_polled_at   INTEGER,
  slowed_at        INTEGER,           -- set when the last poll was answered slow_down
  status           TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
  -- Set on approval: who, with which scope, and the user row's stamp then; the session is
  -- created only while the user is still enabled and unchanged since.
  user_id          TEXT REFERENCES users (id) ON DELETE CASCADE,
  user_updated_at  TEXT,
  granted_scope    TEXT,
  session_id       TEXT
);
CREATE INDEX device_codes_expires ON device_codes (expires_at);
CREATE INDEX device_codes_client ON device_codes (client_id);
CREATE INDEX device_codes_user ON device_codes (user_id) WHERE user_id IS NOT NULL;
