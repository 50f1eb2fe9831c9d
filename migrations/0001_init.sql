-- Portable SQL: the same migrations run on SQLite and PostgreSQL.
-- Registered OAuth clients (RFC 7591 metadata that certbound acts on).
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    scopes TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    bound_access_tokens BIGINT NOT NULL,
    subject_kind TEXT,
    subject_value TEXT,
    jwks TEXT,
    ca_pins TEXT NOT NULL,
    cert_pins TEXT NOT NULL,
    issuer_serial_pins TEXT NOT NULL,
    can_introspect BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Token signing keys; private keys are sealed with the key-encryption key.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    alg TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- Revoked access tokens, kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- Change counters: every node polls these to know when to reload clients or keys.
CREATE TABLE revisions (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO revisions (name, value) VALUES ('clients', 0), ('keys', 0);
