//! `certbound grant`: what customers granted which clients, and revoking it.

use clap::Subcommand;
use serde_json::json;

use super::changes::Changes;
use super::CliResult;
use crate::domain::customer::normalize_username;
use crate::domain::Grant;
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub(super) enum GrantCommand {
    /// List grants, newest first.
    List {
        /// Only this customer's (by username).
        #[arg(long, allow_hyphen_values = true)]
        user: Option<String>,
        /// Only this client's.
        #[arg(long, allow_hyphen_values = true)]
        client: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a grant: its refresh token stops working at once, its access tokens as soon as
    /// resource servers next poll the revocation list.
    Revoke {
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

pub(super) async fn run(cmd: GrantCommand, store: &Store, changes: &Changes) -> CliResult {
    match cmd {
        GrantCommand::List { user, client, json } => {
            let customer_id = match user {
                Some(username) => Some(
                    store
                        .customer_by_username(&normalize_username(&username)?)
                        .await?
                        .ok_or_else(|| format!("no customer {username}"))?
                        .id,
                ),
                None => None,
            };
            let grants = store.list_grants(customer_id.as_deref(), client.as_deref()).await?;
            if json {
                let list: Vec<_> = grants.iter().map(grant_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for g in grants {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        g.id,
                        state(&g),
                        g.customer_id,
                        g.client_id,
                        g.scopes.join(" "),
                        g.accounts.join(",")
                    );
                }
            }
        }
        GrantCommand::Revoke { id } => {
            let grant = store.grant(&id).await?;
            if store.revoke_grant(&id, crate::now()).await? {
                let client_id = grant.map(|g| g.client_id).unwrap_or_default();
                changes.client("admin.grant.revoke", &client_id, Some(json!({ "grant_id": id })), None);
                println!("revoked {id}");
            } else {
                return Err(format!("no live grant {id} (unknown or already revoked)").into());
            }
        }
    }
    Ok(())
}

fn state(g: &Grant) -> &'static str {
    if g.revoked_at.is_some() {
        "revoked"
    } else if g.expires_at <= crate::now() {
        "expired"
    } else {
        "active"
    }
}

fn grant_json(g: &Grant) -> serde_json::Value {
    json!({
        "id": g.id,
        "state": state(g),
        "customer": g.customer_id,
        "client_id": g.client_id,
        "scope": g.scopes.join(" "),
        "accounts": g.accounts,
        "audience": g.audience,
        "created_at": g.created_at,
        "expires_at": g.expires_at,
        "revoked_at": g.revoked_at,
    })
}
