-- The audit trail keyed by a sequence number the database assigns as it writes each row,
-- instead of a text id made of the time, a process tag and a counter; and found by client
-- through spans rather than an index on client_id. Writing a row then touches the table and the
-- index on `at`, both at their ends, where it touched three B-trees, one of them (client_id) at
-- as many places as there are clients in a batch (profiled: docs/performance.md).
-- On SQLite `INTEGER PRIMARY KEY` is the rowid itself: the table is the one B-tree that row
-- goes into, appended at its end.
-- Rows are copied in their old id order, so the sequence keeps their order.
--
-- seq orders rows as they were written; `at` (indexed) orders them by time: the two differ by
-- at most how long an event waited to be written.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    failed_check TEXT,
    endpoint TEXT NOT NULL,
    client_id TEXT,
    cert_thumbprint TEXT,
    cert_source TEXT,
    peer TEXT,
    listener TEXT,
    actor TEXT,
    grant_type TEXT,
    status BIGINT,
    detail TEXT
);
INSERT INTO audit_log (at, kind, outcome, failed_check, endpoint, client_id, cert_thumbprint, cert_source, peer, listener, actor, grant_type, status, detail)
SELECT at, kind, outcome, failed_check, endpoint, client_id, cert_thumbprint, cert_source, peer, listener, actor, grant_type, status, detail FROM audit_events ORDER BY id;
DROP TABLE audit_events;
ALTER TABLE audit_log RENAME TO audit_events;
CREATE INDEX audit_events_at ON audit_events (at);

-- Where each client's events lie: one row per client per batch written, the range of seq its
-- events in that batch fall in (batches are written one at a time, so a client's spans never
-- overlap). Reads for one client walk its spans newest first.
CREATE TABLE audit_client_spans (
    client_id TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    first_seq BIGINT NOT NULL,
    PRIMARY KEY (client_id, last_seq)
);
INSERT INTO audit_client_spans (client_id, last_seq, first_seq)
SELECT client_id, MAX(seq), MIN(seq) FROM audit_events WHERE client_id IS NOT NULL GROUP BY client_id;

-- Each client's latest authentication (a token request or another endpoint's), by outcome: what
-- the console's client page and the expiring-certificates list read, in one lookup.
CREATE TABLE audit_client_latest (
    client_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (client_id, outcome)
);
INSERT INTO audit_client_latest (client_id, outcome, seq)
SELECT client_id, outcome, MAX(seq) FROM audit_events
WHERE client_id IS NOT NULL AND kind <> 'admin' GROUP BY client_id, outcome;
