//! `certbound user`: bank customers, who sign in at the authorization endpoint.

use std::io::BufRead;

use clap::Subcommand;
use serde_json::json;

use super::changes::Changes;
use super::CliResult;
use crate::domain::customer::normalize_username;
use crate::domain::{Customer, CustomerStatus};
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub(super) enum UserCommand {
    /// Add a customer; the password is read from standard input, never from the command line.
    Add {
        #[arg(long, allow_hyphen_values = true)]
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// An account the customer may share (repeatable).
        #[arg(long = "account")]
        accounts: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List customers.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop a customer from signing in; their grants' refresh tokens stop working too.
    Disable {
        #[arg(allow_hyphen_values = true)]
        username: String,
    },
    /// Allow a disabled customer again.
    Enable {
        #[arg(allow_hyphen_values = true)]
        username: String,
    },
}

pub(super) async fn run(cmd: UserCommand, store: &Store, changes: &Changes) -> CliResult {
    match cmd {
        UserCommand::Add {
            username,
            password_stdin: _,
            accounts,
            json,
        } => {
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let customer = Customer::register(&username, password, accounts)?;
            store.insert_customer(&customer).await?;
            changes.other(
                "admin.customer.add",
                None,
                Some(json!({ "username": customer.username, "sub": customer.id })),
            );
            if json {
                println!("{}", serde_json::to_string_pretty(&customer_json(&customer))?);
            } else {
                println!("{}", customer.username);
            }
        }
        UserCommand::List { json } => {
            let customers = store.list_customers().await?;
            if json {
                let list: Vec<_> = customers.iter().map(customer_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for c in customers {
                    println!(
                        "{}\t{}\t{}\t{}",
                        c.username,
                        c.status.as_str(),
                        c.id,
                        c.accounts.join(",")
                    );
                }
            }
        }
        UserCommand::Disable { username } => {
            let username = normalize_username(&username)?;
            store.set_customer_status(&username, CustomerStatus::Disabled).await?;
            changes.other("admin.customer.disable", None, Some(json!({ "username": username })));
            println!("disabled {username}");
        }
        UserCommand::Enable { username } => {
            let username = normalize_username(&username)?;
            store.set_customer_status(&username, CustomerStatus::Active).await?;
            changes.other("admin.customer.enable", None, Some(json!({ "username": username })));
            println!("enabled {username}");
        }
    }
    Ok(())
}

fn customer_json(c: &Customer) -> serde_json::Value {
    json!({
        "username": c.username,
        "sub": c.id,
        "status": c.status.as_str(),
        "accounts": c.accounts,
        "created_at": c.created_at,
    })
}
