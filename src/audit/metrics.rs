//! Counters of the requests [`super::record_requests`] sees, kept whether or not auditing is on,
//! and their Prometheus text form with the audit queue's own counts. Every label has a bounded
//! set of values: the five endpoints, the named checks and OAuth error codes, the grant types
//! certbound supports.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use super::AuditStats;
use crate::domain::AuditOutcome;

#[derive(Debug, Default)]
pub struct RequestMetrics(Mutex<Counts>);

#[derive(Debug, Default)]
struct Counts {
    requests: BTreeMap<(String, AuditOutcome), u64>,
    failed_checks: BTreeMap<String, u64>,
    tokens: BTreeMap<String, u64>,
}

impl RequestMetrics {
    /// One request to `endpoint`; `failed_check` when refused; `issued` the grant type of a
    /// token issued.
    pub(super) fn count(
        &self,
        endpoint: &str,
        outcome: AuditOutcome,
        failed_check: Option<&str>,
        issued: Option<&str>,
    ) {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match counts.requests.get_mut(&(endpoint.to_string(), outcome)) {
            Some(n) => *n += 1,
            None => {
                counts.requests.insert((endpoint.to_string(), outcome), 1);
            }
        }
        if let Some(check) = failed_check {
            *counts.failed_checks.entry(check.to_string()).or_default() += 1;
        }
        if let Some(grant_type) = issued {
            *counts.tokens.entry(grant_type.to_string()).or_default() += 1;
        }
    }

    /// Prometheus text exposition (version 0.0.4).
    pub fn render(&self, audit: AuditStats, out: &mut String) {
        let counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        family(
            out,
            "certbound_requests_total",
            "counter",
            "Requests to the endpoints that authenticate clients, by outcome.",
        );
        for ((endpoint, outcome), n) in &counts.requests {
            let _ = writeln!(
                out,
                "certbound_requests_total{{endpoint=\"{endpoint}\",outcome=\"{}\"}} {n}",
                outcome.as_str()
            );
        }
        counter_by(
            out,
            "certbound_request_failures_total",
            "Refused requests, by the check that refused them or the OAuth error.",
            "check",
            &counts.failed_checks,
        );
        counter_by(
            out,
            "certbound_tokens_issued_total",
            "Access tokens issued, by grant type.",
            "grant_type",
            &counts.tokens,
        );
        for (name, kind, help, value) in [
            (
                "certbound_audit_events_recorded_total",
                "counter",
                "Audit events handed to the queue.",
                audit.recorded,
            ),
            (
                "certbound_audit_events_written_total",
                "counter",
                "Audit events written to the database.",
                audit.written,
            ),
            (
                "certbound_audit_events_dropped_total",
                "counter",
                "Audit events dropped because the queue was full.",
                audit.dropped,
            ),
            (
                "certbound_audit_events_failed_total",
                "counter",
                "Audit events the database refused three times.",
                audit.failed,
            ),
            (
                "certbound_audit_queue_depth",
                "gauge",
                "Audit events waiting for the writer.",
                audit.depth,
            ),
        ] {
            family(out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
    }
}

/// A counter family with one label.
fn counter_by(out: &mut String, name: &str, help: &str, label: &str, values: &BTreeMap<String, u64>) {
    family(out, name, "counter", help);
    for (value, n) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}
