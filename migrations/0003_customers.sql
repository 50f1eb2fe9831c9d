-- Bank customers, who sign in at the authorization endpoint. Passwords are argon2id PHC strings.
CREATE TABLE customers (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    accounts TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

INSERT INTO revisions (name, value) VALUES ('customers', 0);
