-- Findings of the second outside penetration test (docs/security.md).

-- A client's own tokens (client credentials) have no session to end: they count only from this
-- Unix second on (their `iat` at least this). Disabling the client, rotating its secret and taking
-- away its client_credentials grant move it to max(itself + 1, now + 1): a token issued in the
-- same second as the change, before or after it, no longer counts, and two changes in one second
-- still differ (see src/db/clients.ts). 0 for a client that was never changed so.
ALTER TABLE clients ADD COLUMN tokens_valid_after INTEGER NOT NULL DEFAULT 0;

-- REFRESH_RETRY_SECONDS (off by default): the token response that rotated this refresh token,
-- AES-256-GCM under a key derived (HKDF-SHA-256) from the token itself, which only its holder has;
-- a retry with the token within the window gets it again (src/grants/refresh-token.ts). NULL when
-- the window is off, and set back to NULL by the hourly purge once the window is over.
ALTER TABLE refresh_tokens ADD COLUMN retry_response TEXT;
CREATE INDEX refresh_tokens_retry ON refresh_tokens (used_at) WHERE retry_response IS NOT NULL;
