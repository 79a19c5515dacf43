-- Findings of the outside penetration test (issue 20).

-- A client's own tokens (client credentials) have no session to end: they count only from this
-- Unix second on (their `iat` at least this). Disabling the client, rotating its secret and taking
-- away its client_credentials grant move it to max(itself + 1, now + 1): a token issued in the
-- same second as the change, before or after it, no longer counts, and two changes in one second
-- still differ (see src/db/clients.ts). 0 for a client that was never changed so.
ALTER TABLE clients ADD COLUMN tokens_valid_after INTEGER NOT NULL DEFAULT 0;
