-- The audit trail: every client authentication attempt, every token issued or refused, and
-- every administrative change. Append-only: rows are inserted by the audit writer and removed
-- only by retention. The id sorts by time (milliseconds, then a per-process sequence).
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    failed_check TEXT,
    endpoint TEXT NOT NULL,
    client_id TEXT,
    cert_subject TEXT,
    cert_issuer TEXT,
    cert_serial TEXT,
    cert_thumbprint TEXT,
    cert_source TEXT,
    peer TEXT,
    listener TEXT,
    actor TEXT,
    detail TEXT
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_client_id ON audit_events (client_id, at);
