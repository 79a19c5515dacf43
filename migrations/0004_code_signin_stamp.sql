-- Issue 11's rule for the code flow (issue 12): a code remembers users.updated_at of the sign-in it
-- was issued under, and is exchanged for a session only while the user row still carries that
-- stamp (no new password, reset, disable or role since). A column of its own, not an edit of
-- 0003, so that a local database already migrated to 0003 picks it up. Codes issued before it
-- live at most 60 s; their empty stamp matches no user, so they are refused.
ALTER TABLE authorization_codes ADD COLUMN user_updated_at TEXT NOT NULL DEFAULT '';
