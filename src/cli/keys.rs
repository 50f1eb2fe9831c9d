//! `certbound keys`: token signing keys.

use clap::Subcommand;
use serde_json::json;

use super::changes::Changes;
use super::CliResult;
use crate::config::Settings;
use crate::jose::{KeyEncryptionKey, SigningAlg};
use crate::oauth::signing_keys as keys;
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub(super) enum KeysCommand {
    /// Generate a new signing key; the old public key stays in the JWKS until its tokens expire.
    Rotate {
        /// ES256, PS256 or EdDSA (default: the configured signing_alg).
        #[arg(long)]
        alg: Option<String>,
    },
    /// Remove a retired key at once (it leaked): tokens signed with it stop working everywhere
    /// within a reload interval. The active key cannot be purged: rotate first.
    Purge {
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// List signing keys.
    List {
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(cmd: KeysCommand, settings: &Settings, store: &Store, changes: &Changes) -> CliResult {
    match cmd {
        KeysCommand::Rotate { alg } => {
            let alg: SigningAlg = match alg {
                Some(a) => a
                    .parse()
                    .map_err(|_| format!("unsupported algorithm {a:?} (ES256, PS256, EdDSA)"))?,
                None => settings.signing_alg,
            };
            let kek = KeyEncryptionKey::load(&settings.kek)?;
            let kid = keys::rotate(store, &kek, alg).await?;
            changes.other(
                "admin.signing_key.rotate",
                None,
                Some(json!({ "kid": kid, "alg": alg.as_str() })),
            );
            let purged = keys::purge(store, settings.access_token_ttl as i64).await?;
            println!(
                "new {} signing key {kid}; {purged} expired key(s) removed",
                alg.as_str()
            );
        }
        KeysCommand::Purge { kid } => {
            keys::purge_key(store, &kid).await?;
            changes.other("admin.signing_key.purge", Some(json!({ "kid": kid })), None);
            println!("signing key {kid} purged");
        }
        KeysCommand::List { json } => {
            let rows = store.list_signing_keys().await?;
            if json {
                let list: Vec<_> = rows
                    .iter()
                    .map(
                        |r| json!({"kid": r.kid, "alg": r.alg, "created_at": r.created_at, "retired_at": r.retired_at}),
                    )
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for r in rows {
                    let state = r.retired_at.map_or("active".to_string(), |t| format!("retired at {t}"));
                    println!("{}\t{}\t{}", r.kid, r.alg, state);
                }
            }
        }
    }
    Ok(())
}
