//! What a batch adds besides its rows, so that one client's rows are found without a per-row
//! index on `client_id`: the range of `seq` its rows in the batch fall in
//! (`audit_client_spans`), and its latest authentication by outcome (`audit_client_latest`,
//! what the console's client page and the expiring-certificates list read).

use std::collections::HashMap;

use crate::domain::{AuditKind, AuditOutcome};

pub(super) const INSERT_SPAN: &str = "INSERT INTO audit_client_spans (client_id, last_seq, first_seq) VALUES ";
pub(super) const INSERT_LATEST: &str = "INSERT INTO audit_client_latest (client_id, outcome, seq) VALUES ";
/// A later row replaces the one kept, never an earlier one.
pub(super) const LATEST_IF_LATER: &str = " ON CONFLICT (client_id, outcome) DO UPDATE SET seq = excluded.seq \
                                          WHERE excluded.seq > audit_client_latest.seq";

/// One batch's spans and latest authentications, by client.
#[derive(Default)]
pub(super) struct ClientIndex<'a> {
    spans: HashMap<&'a str, (i64, i64)>,
    latest: HashMap<(&'a str, AuditOutcome), i64>,
}

impl<'a> ClientIndex<'a> {
    /// Notes the row `seq`, written for this client, kind and outcome.
    pub(super) fn add(&mut self, client_id: Option<&'a str>, kind: AuditKind, outcome: AuditOutcome, seq: i64) {
        let Some(client_id) = client_id else {
            return;
        };
        let span = self.spans.entry(client_id).or_insert((seq, seq));
        span.0 = span.0.min(seq);
        span.1 = span.1.max(seq);
        if kind != AuditKind::Admin {
            let latest = self.latest.entry((client_id, outcome)).or_insert(seq);
            *latest = (*latest).max(seq);
        }
    }

    /// `(client_id, first_seq, last_seq)`.
    pub(super) fn spans(&self) -> Vec<(&'a str, i64, i64)> {
        self.spans
            .iter()
            .map(|(c, (first, last))| (*c, *first, *last))
            .collect()
    }

    /// `(client_id, outcome, seq)`.
    pub(super) fn latest(&self) -> Vec<(&'a str, AuditOutcome, i64)> {
        self.latest
            .iter()
            .map(|((c, outcome), seq)| (*c, *outcome, *seq))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_a_clients_rows_and_latest_ignores_administrative_changes() {
        let mut index = ClientIndex::default();
        index.add(Some("a"), AuditKind::Token, AuditOutcome::Success, 5);
        index.add(Some("b"), AuditKind::Token, AuditOutcome::Failure, 6);
        index.add(Some("a"), AuditKind::Token, AuditOutcome::Failure, 7);
        index.add(Some("a"), AuditKind::Token, AuditOutcome::Success, 9);
        index.add(Some("a"), AuditKind::Admin, AuditOutcome::Success, 10);
        index.add(None, AuditKind::Token, AuditOutcome::Failure, 11);
        let mut spans = index.spans();
        spans.sort();
        assert_eq!(spans, vec![("a", 5, 10), ("b", 6, 6)]);
        let mut latest = index.latest();
        latest.sort_by_key(|l| l.2);
        assert_eq!(
            latest,
            vec![
                ("b", AuditOutcome::Failure, 6),
                ("a", AuditOutcome::Failure, 7),
                ("a", AuditOutcome::Success, 9)
            ]
        );
    }
}
