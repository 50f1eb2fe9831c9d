-- Administrators of the admin console. Passwords are argon2id PHC strings; an admin may change
-- registrations, a viewer only reads.
CREATE TABLE administrators (
    username TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
