-- private_key_jwt, signed request objects and DPoP: where a client's keys come from, and what it
-- registered about request objects and sender constraints.
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
ALTER TABLE clients ADD COLUMN require_signed_request_object BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BIGINT NOT NULL DEFAULT 0;

-- JWT ids seen in client assertions and DPoP proofs (hashed, with the issuer's scope): one
-- atomic INSERT each, so a replay is refused across every process on the database. Rows expire
-- with the JWT they came from.
CREATE TABLE seen_jtis (
    jti_hash TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX seen_jtis_expires_at ON seen_jtis (expires_at);

-- RFC 9449 §10: the DPoP key a grant's code (from PAR's dpop_jkt, or the key of the proof at the
-- code's redemption) and then its refresh token are bound to.
ALTER TABLE grants ADD COLUMN dpop_jkt TEXT;
