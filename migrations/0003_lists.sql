-- Shared lists and teams (issue 14). Every todo belongs to a list; every user has a default list.
-- The policy that reads these tables is src/auth/policy.ts; docs/data.md describes each column.

-- Default lists are made here in SQL (below, and by the trigger on users) with a random
-- version-4 UUID spelled out in SQL: the same shape as the Worker's crypto.randomUUID() ids.

CREATE TABLE lists (
  id         TEXT PRIMARY KEY,
  owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
  archived   INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
-- The owner's lists in order of creation; also the parent key of todos (list_id, owner_id).
CREATE UNIQUE INDEX lists_owner_id ON lists (owner_id, id);
CREATE INDEX lists_owner_created ON lists (owner_id, created_at);
-- Exactly one default list per user: where POST /api/todos puts a todo without list_id.
CREATE UNIQUE INDEX lists_one_default ON lists (owner_id) WHERE is_default = 1;

CREATE TABLE teams (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE team_members (
  team_id    TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role       TEXT NOT NULL CHECK (role IN ('member', 'manager')),
  created_at TEXT NOT NULL,
  PRIMARY KEY (team_id, user_id)
) WITHOUT ROWID;
-- "The teams I am in": every access check that goes through a team share starts here.
CREATE INDEX team_members_user ON team_members (user_id, team_id);

-- A share of a list with one user or one team (exactly one of user_id, team_id is set).
CREATE TABLE list_members (
  list_id    TEXT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
  user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
  team_id    TEXT REFERENCES teams (id) ON DELETE CASCADE,
  role       TEXT NOT NULL CHECK (role IN ('viewer', 'editor')),
  created_at TEXT NOT NULL,
  CHECK ((user_id IS NULL) <> (team_id IS NULL)),
  -- NULLs are distinct in a UNIQUE constraint, so a team share never collides with a user share.
  UNIQUE (list_id, user_id),
  UNIQUE (list_id, team_id)
);
-- "The lists shared with me / with my teams", for GET /api/lists and every access check.
CREATE INDEX list_members_user ON list_members (user_id, list_id) WHERE user_id IS NOT NULL;
CREATE INDEX list_members_team ON list_members (team_id, list_id) WHERE team_id IS NOT NULL;

-- Every existing user gets a default list.
INSERT INTO lists (id, owner_id, name, is_default, archived, created_at, updated_at)
SELECT
  lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
    || substr(lower(hex(randomblob(2))), 2) || '-'
    || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2) || '-'
    || lower(hex(randomblob(6))),
  id, 'Todos', 1, 0, created_at, created_at
FROM users;

-- Every user inserted from now on gets one too, whoever inserts it: the Worker, the user CLI or
-- the seed. An INSERT ... ON CONFLICT DO NOTHING that inserts nothing fires no trigger.
CREATE TRIGGER users_default_list AFTER INSERT ON users
BEGIN
  INSERT INTO lists (id, owner_id, name, is_default, archived, created_at, updated_at)
  VALUES (
    lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
      || substr(lower(hex(randomblob(2))), 2) || '-'
      || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2) || '-'
      || lower(hex(randomblob(6))),
    NEW.id, 'Todos', 1, 0, NEW.created_at, NEW.created_at
  );
END;

-- todos gains list_id, NOT NULL, so the table is rebuilt (ALTER TABLE cannot add a NOT NULL
-- REFERENCES column). owner_id stays: it is the list's owner, kept on the todo so that a user's
-- own todos (GET /api/todos) are read by one index, as before. The composite key makes the
-- database itself refuse a todo whose owner_id is not its list's owner.
CREATE TABLE todos_with_lists (
  id          TEXT PRIMARY KEY,
  owner_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  list_id     TEXT NOT NULL,
  title       TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  completed   INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  FOREIGN KEY (owner_id, list_id) REFERENCES lists (owner_id, id) ON DELETE CASCADE
);

-- Every todo moves into its owner's default list; rowids are kept, so the newest-first order
-- (created_at, rowid) is unchanged. Nothing is lost: every todo has an owner (a foreign key),
-- and every owner now has a default list (test/integration/lists-migration.test.ts).
INSERT INTO todos_with_lists
  (rowid, id, owner_id, list_id, title, description, completed, created_at, updated_at)
SELECT t.rowid, t.id, t.owner_id, l.id, t.title, t.description, t.completed, t.created_at,
  t.updated_at
FROM todos AS t JOIN lists AS l ON l.owner_id = t.owner_id AND l.is_default = 1;

DROP TABLE todos;
ALTER TABLE todos_with_lists RENAME TO todos;

-- The indexes of 0001, recreated on the new table, and the same two for one list.
CREATE INDEX todos_owner_created ON todos (owner_id, created_at);
CREATE INDEX todos_owner_completed_created ON todos (owner_id, completed, created_at);
CREATE INDEX todos_list_created ON todos (list_id, created_at);
CREATE INDEX todos_list_completed_created ON todos (list_id, completed, created_at);
