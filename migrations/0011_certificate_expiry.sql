-- When each audited certificate expires, so the admin console can list the certificates clients
-- last authenticated with that expire soon. Rows written before stay without it.
ALTER TABLE audit_certificates ADD COLUMN not_after BIGINT;
