-- API keys issued to clients, stored only as a SHA-256 hash of their secret part.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    cert_thumbprints TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_keys_client_id ON api_keys (client_id);

INSERT INTO revisions (name, value) VALUES ('api_keys', 0), ('revocations', 0);
