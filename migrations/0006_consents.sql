-- Open Banking account-access consents and RFC 9396 authorization details. A consent is created
-- by its TPP, authorised once by a customer (with the accounts they chose and the grant that
-- carries it) or rejected, and revoked by its TPP, which revokes that grant. Expiry is read from
-- expires_at, never written.
CREATE TABLE consents (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    permissions TEXT NOT NULL,
    expires_at BIGINT,
    transaction_from BIGINT,
    transaction_to BIGINT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    status_updated_at BIGINT NOT NULL,
    customer_id TEXT,
    accounts TEXT NOT NULL,
    grant_id TEXT
);
CREATE INDEX consents_client_id ON consents (client_id);

-- The authorization_details a grant carries into its tokens, as granted.
ALTER TABLE grants ADD COLUMN authorization_details TEXT NOT NULL DEFAULT '[]';

-- RFC 9396 §10 client metadata: the authorization_details types the client may request.
ALTER TABLE clients ADD COLUMN authorization_details_types TEXT NOT NULL DEFAULT '[]';
