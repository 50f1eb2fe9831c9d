//! `certbound admin`: the operators who sign in to the admin console.

use std::io::BufRead;

use clap::Subcommand;
use serde_json::json;

use super::changes::Changes;
use super::CliResult;
use crate::domain::customer::normalize_username;
use crate::domain::status::Status;
use crate::domain::{AdminRole, Administrator};
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub(super) enum AdminCommand {
    /// Add an administrator; the password is read from standard input, never from the command
    /// line.
    Add {
        #[arg(long, allow_hyphen_values = true)]
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// `admin` changes registrations; `viewer` sees everything and changes nothing.
        #[arg(long)]
        role: AdminRole,
    },
    /// List administrators.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop an administrator from signing in.
    Disable {
        #[arg(allow_hyphen_values = true)]
        username: String,
    },
    /// Allow a disabled administrator again.
    Enable {
        #[arg(allow_hyphen_values = true)]
        username: String,
    },
}

pub(super) async fn run(cmd: AdminCommand, store: &Store, changes: &Changes) -> CliResult {
    match cmd {
        AdminCommand::Add {
            username,
            password_stdin: _,
            role,
        } => {
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let admin = Administrator::register(&username, password.trim_end_matches(['\r', '\n']), role)?;
            store.insert_administrator(&admin).await?;
            let after = json!({ "username": admin.username, "role": admin.role.as_str() });
            changes.other("admin.administrator.add", None, Some(after));
            println!("{} ({})", admin.username, admin.role.as_str());
        }
        AdminCommand::List { json } => {
            let admins = store.list_administrators().await?;
            if json {
                let list: Vec<_> = admins
                    .iter()
                    .map(|a| {
                        json!({
                            "username": a.username,
                            "role": a.role.as_str(),
                            "status": a.status.as_str(),
                            "created_at": a.created_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for a in admins {
                    println!("{}\t{}\t{}", a.username, a.role.as_str(), a.status.as_str());
                }
            }
        }
        AdminCommand::Disable { username } => set_status(store, changes, &username, Status::Disabled).await?,
        AdminCommand::Enable { username } => set_status(store, changes, &username, Status::Active).await?,
    }
    Ok(())
}

async fn set_status(store: &Store, changes: &Changes, username: &str, status: Status) -> CliResult {
    let username = normalize_username(username)?;
    store.set_administrator_status(&username, status).await?;
    let after = json!({ "username": username, "status": status.as_str() });
    changes.other("admin.administrator.status", None, Some(after));
    println!(
        "{} {username}",
        if status == Status::Active {
            "enabled"
        } else {
            "disabled"
        }
    );
    Ok(())
}
