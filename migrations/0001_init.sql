-- todo-auth schema. Shipped migrations are never edited; add a new numbered file instead.
-- Times: API-facing rows (users, todos) keep ISO 8601 text; token bookkeeping keeps unix
-- seconds so that expiry checks are plain integer comparisons.

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  name          TEXT NOT NULL DEFAULT '',
  email         TEXT NOT NULL DEFAULT '',
  role          TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  scopes        TEXT NOT NULL DEFAULT 'read write',  -- space-separated, as in OAuth
  disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);
-- The admin list, oldest first: walked in order, so a page reads only its own rows.
CREATE INDEX users_created ON users (created_at);
-- "Another enabled admin exists", checked by every user update and delete.
CREATE INDEX users_role ON users (role, disabled);

CREATE TABLE todos (
  id          TEXT PRIMARY KEY,
  owner_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title       TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  completed   INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
-- The owner's list, newest first, optionally filtered by completion. Ascending on purpose: read
-- backwards, (created_at, rowid) comes out exactly in the list's ORDER BY created_at DESC, rowid
-- DESC, with no sort step (a DESC index would need one for the rowid tie-break).
CREATE INDEX todos_owner_created ON todos (owner_id, created_at);
CREATE INDEX todos_owner_completed_created ON todos (owner_id, completed, created_at);

-- One row per login. Every access and refresh token carries or points to its session, so
-- revoking the row ends all of them at once.
CREATE TABLE sessions (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  scope      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,   -- absolute refresh lifetime, counted from the login
  revoked_at INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
-- With sessions_expires, lets the hourly purge find revoked sessions without a full scan; partial,
-- so live sessions (nearly all rows) cost it nothing.
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Every refresh token ever issued, by SHA-256 only. A used token stays (used_at set) until its
-- session is purged, so that presenting it again is recognised as reuse.
CREATE TABLE refresh_tokens (
  token_hash  TEXT PRIMARY KEY,
  session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  created_at  INTEGER NOT NULL,
  used_at     INTEGER,
  replaced_by TEXT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Password-check throttling. key is 'user:<lowercased username>' or 'ip:<address>'.
CREATE TABLE login_failures (
  key          TEXT PRIMARY KEY,
  failures     INTEGER NOT NULL DEFAULT 0,
  window_start INTEGER NOT NULL,
  locked_until INTEGER NOT NULL DEFAULT 0,
  lockouts     INTEGER NOT NULL DEFAULT 0,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX login_failures_updated ON login_failures (updated_at);

-- Security events. Never a password or a token.
CREATE TABLE audit_events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  at         INTEGER NOT NULL,
  event      TEXT NOT NULL,
  username   TEXT,
  user_id    TEXT,
  ip         TEXT,
  user_agent TEXT,
  detail     TEXT
);
-- Newest first, optionally for one username; ascending and read backwards, as for todos, so that
-- the id tie-break (the rowid) needs no sort.
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_username_at ON audit_events (username COLLATE NOCASE, at);
