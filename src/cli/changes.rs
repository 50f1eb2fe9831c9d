//! The CLI's changes go to the audit trail as the console's do, with the actor `cli:<user>`
//! (the operating-system account that ran the command). Each command records its change after
//! it succeeded and waits, briefly, for the row to be written.

use std::time::Duration;

use serde_json::Value;

use super::CliResult;
use crate::admin::changes::{record_in, Change};
use crate::audit::AuditLog;
use crate::config::Settings;
use crate::store::Store;

pub(super) struct Changes {
    log: AuditLog,
    actor: String,
}

impl Changes {
    /// An audit log of its own for this command, with its writer running.
    pub(super) fn start(store: &Store, settings: &Settings) -> Self {
        let (log, writer) = AuditLog::start(store.clone(), settings.audit);
        tokio::spawn(writer);
        let user = std::env::var("USER").unwrap_or_default();
        let user: String = user.chars().filter(|c| !c.is_control()).take(64).collect();
        Self {
            log,
            actor: format!("cli:{}", if user.is_empty() { "unknown" } else { &user }),
        }
    }

    /// A change to a client (or something of one: its API keys, grants, tokens).
    pub(super) fn client(&self, action: &'static str, client_id: &str, before: Option<Value>, after: Option<Value>) {
        record_in(&self.log, Change::client(&self.actor, action, client_id, before, after));
    }

    /// A change to the signing keys or the administrators and customers.
    pub(super) fn other(&self, action: &'static str, before: Option<Value>, after: Option<Value>) {
        record_in(&self.log, Change::keys(&self.actor, action, before, after));
    }

    /// Waits for the rows; a change the audit trail did not take is an error to report.
    pub(super) async fn finish(self) -> CliResult {
        if self.log.settled(Duration::from_secs(10)).await {
            Ok(())
        } else {
            Err("the change was made, but its audit row could not be written".into())
        }
    }
}
