-- Resource indicators (RFC 8707): the protected resource a grant was made for, kept with the
-- grant so that every token issued under it carries that resource as its `aud` (RFC 9068 §3)
-- and a refresh cannot reach past it (RFC 8707 §2.2). The canonical URI of the resource
-- (src/domain/resources.ts): the issuer for the REST API, `<issuer>/mcp` for the MCP server.
-- NULL: the request named none, and the tokens carry JWT_AUDIENCE, as before.
-- (0006 and 0007 are other branches'.)
ALTER TABLE authorization_codes ADD COLUMN resource TEXT;
ALTER TABLE device_codes ADD COLUMN resource TEXT;
ALTER TABLE sessions ADD COLUMN resource TEXT;
