-- Whether anyone vetted a client (docs/security.md): 1 for the clients an administrator registered (the
-- admin API, `npm run client`, the seeds) and for every first-party client; 0 for clients that
-- anyone registered through RFC 7591 (POST /auth/clients). The authorization endpoint sends an
-- unvetted client's early errors to the HTML page rather than its redirect URI (RFC 9700
-- §4.11.2), and the login and consent pages mark it unverified. An administrator vets one with
-- PATCH /admin/clients/{id} {"vetted": true}; first-party status implies it.
ALTER TABLE clients ADD COLUMN vetted INTEGER NOT NULL DEFAULT 1
  CHECK (vetted IN (0, 1) AND (vetted = 1 OR first_party = 0));

-- Nothing recorded until now which clients came through registration. Failing safe, every client
-- that registration could have made (public, not first-party, only the code and refresh grants,
-- at most `read write`) starts unvetted; an administrator vets their own again (docs/admin.md).
UPDATE clients SET vetted = 0
WHERE first_party = 0 AND client_type = 'public'
  AND scope IN ('', 'read', 'write', 'read write')
  AND NOT EXISTS (
    SELECT 1 FROM json_each(clients.grant_types)
    WHERE value NOT IN ('authorization_code', 'refresh_token')
  );

-- Registration compares a new name with every vetted client's (RFC 7591 §5).
CREATE INDEX clients_vetted_names ON clients (vetted, client_name);
