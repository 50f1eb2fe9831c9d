//! `certbound apikey`: API keys for clients.

use clap::Subcommand;
use serde_json::json;

use super::changes::Changes;
use super::{pin_from_arg, CliResult};
use crate::pki::Thumbprint;
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub(super) enum ApikeyCommand {
    /// Issue a key for a client; the key is printed once and only its hash is stored.
    Create {
        #[arg(long, allow_hyphen_values = true)]
        client: String,
        /// Accept the key only over this certificate (x5t#S256 thumbprint or PEM file; repeatable).
        #[arg(long = "bind-cert")]
        bind_certs: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Issue a new key; the client's other keys keep working for --overlap seconds.
    Rotate {
        #[arg(long, allow_hyphen_values = true)]
        client: String,
        #[arg(long, default_value_t = 86_400)]
        overlap: i64,
        #[arg(long = "bind-cert")]
        bind_certs: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List keys (ids, state, last use; never the keys themselves).
    List {
        #[arg(long, allow_hyphen_values = true)]
        client: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id.
    Revoke {
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

pub(super) async fn run(cmd: ApikeyCommand, store: &Store, changes: &Changes) -> CliResult {
    match cmd {
        ApikeyCommand::Create {
            client,
            bind_certs,
            json,
        } => issue_api_key(store, changes, &client, &bind_certs, None, json).await,
        ApikeyCommand::Rotate {
            client,
            overlap,
            bind_certs,
            json,
        } => {
            if overlap < 0 {
                return Err("--overlap must not be negative".into());
            }
            issue_api_key(store, changes, &client, &bind_certs, Some(crate::now() + overlap), json).await
        }
        ApikeyCommand::List { client, json } => {
            let rows = store.list_api_keys(client.as_deref()).await?;
            let now = crate::now();
            let state = |r: &crate::store::api_keys::ApiKeyRow| r.state(now);
            if json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        json!({"id": r.id, "client_id": r.client_id, "state": state(r), "cert_thumbprints": r.cert_thumbprints,
                               "created_at": r.created_at, "expires_at": r.expires_at, "revoked_at": r.revoked_at,
                               "last_used_at": r.last_used_at})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for r in &rows {
                    let used = r
                        .last_used_at
                        .map_or("never used".to_string(), |t| format!("last used {t}"));
                    println!("{}\t{}\t{}\t{used}", r.id, r.client_id, state(r));
                }
            }
            Ok(())
        }
        ApikeyCommand::Revoke { id } => {
            let client_id = store.get_api_key(&id).await?.map(|k| k.client_id).unwrap_or_default();
            store.revoke_api_key(&id).await?;
            changes.client("admin.api_key.revoke", &client_id, Some(json!({ "id": id })), None);
            println!("revoked {id}");
            Ok(())
        }
    }
}

async fn issue_api_key(
    store: &Store,
    changes: &Changes,
    client: &str,
    bind_certs: &[String],
    expire_others_at: Option<i64>,
    json: bool,
) -> CliResult {
    if store.get_client(client).await?.is_none() {
        return Err(format!("no client {client}").into());
    }
    let thumbprints = bind_certs
        .iter()
        .map(|p| pin_from_arg(p, Thumbprint::from_base64url, |der| Some(Thumbprint::of_der(der))))
        .collect::<Result<Vec<_>, _>>()?;
    let issued = crate::rs::api_keys::issue(client, &thumbprints);
    store.insert_api_key(&issued.row, expire_others_at).await?;
    let action = match expire_others_at {
        Some(_) => "admin.api_key.rotate",
        None => "admin.api_key.issue",
    };
    let after = json!({ "id": issued.row.id, "cert_thumbprints": issued.row.cert_thumbprints });
    changes.client(action, client, None, Some(after));
    if json {
        println!(
            "{}",
            json!({"api_key": issued.key, "id": issued.row.id, "client_id": client})
        );
    } else {
        println!("{}", issued.key);
        eprintln!("(shown once: certbound stores only its hash; id {})", issued.row.id);
    }
    Ok(())
}
