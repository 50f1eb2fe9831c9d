-- Signed-in administrators of the console. The browser holds a random cookie; only its SHA-256
-- is kept here. A session ends at sign-out, after `idle` without a request, or at its absolute
-- limit; `reauthenticated_at` is when the password was last typed (destructive actions want it
-- recent).
CREATE TABLE admin_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    reauthenticated_at BIGINT NOT NULL
);
CREATE INDEX admin_sessions_username ON admin_sessions (username);

-- "Revoke every token of this client": access tokens the client was issued at or before this
-- time (seconds) are refused; resource servers learn it with the revocation list.
ALTER TABLE clients ADD COLUMN tokens_revoked_at BIGINT;
