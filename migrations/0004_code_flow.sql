-- The authorization code flow (FAPI 2.0): pushed requests, the customer's interaction in the
-- browser, grants with their codes, and sign-in throttling. Every single-use artefact is consumed
-- by one atomic UPDATE, so the guarantee holds across processes sharing the database.

-- RFC 9126 pushed authorization requests: one-time, short-lived; only a hash of the request_uri.
CREATE TABLE pushed_requests (
    id_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    request TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);

-- A customer's way from the authorization endpoint to the redirect, bound to the browser session
-- (a hash of the session cookie) and carrying the CSRF token of its forms.
CREATE TABLE interactions (
    id TEXT PRIMARY KEY NOT NULL,
    session_hash TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    client_id TEXT NOT NULL,
    request TEXT NOT NULL,
    customer_id TEXT,
    auth_time BIGINT,
    expires_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX interactions_expires_at ON interactions (expires_at);

-- What a customer granted a client, with its authorization code (one per grant: the hash, what
-- it is bound to, until when, how often it was presented) and, once the code is redeemed, the
-- hash of its refresh token (no rotation). Redeeming is one UPDATE of one row.
CREATE TABLE grants (
    id TEXT PRIMARY KEY NOT NULL,
    customer_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    accounts TEXT NOT NULL,
    audience TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    code_hash TEXT NOT NULL UNIQUE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    nonce TEXT,
    code_expires_at BIGINT NOT NULL,
    code_presentations BIGINT NOT NULL,
    redeemed_at BIGINT,
    revoked_at BIGINT,
    refresh_token_hash TEXT UNIQUE
);
CREATE INDEX grants_customer_id ON grants (customer_id);
CREATE INDEX grants_client_id ON grants (client_id);
CREATE INDEX grants_revoked_at ON grants (revoked_at);

-- Failed sign-ins, by "username:…" and "address:…", for throttling.
CREATE TABLE login_failures (
    subject TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_subject_at ON login_failures (subject, at);

-- Browsers a customer has signed in from (hash of a device cookie): exempt from the
-- per-username throttle, so an attacker failing on purpose cannot lock the customer out.
CREATE TABLE known_devices (
    device_hash TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (device_hash, customer_id)
);
