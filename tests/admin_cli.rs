//! `certbound admin`: administrators of the console are added with a password from standard
//! input (argon2id at rest), listed, disabled and enabled; bad input writes nothing.

mod common;

use certbound::domain::status::Status;
use certbound::domain::AdminRole;
use certbound::store::Store;
use common::cli::{certbound, certbound_with_stdin};
use common::Db;

on_both_databases!(administrators_are_added_from_stdin_listed_disabled_and_enabled);

async fn administrators_are_added_from_stdin_listed_disabled_and_enabled(backend: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (db, pg_name) = match backend {
        Db::Sqlite => (format!("sqlite://{}/admins.db?mode=rwc", dir.path().display()), None),
        Db::Postgres => {
            let (url, name) = common::create_pg_database().await;
            (url, Some(name))
        }
    };
    let run = |args: &[&str]| {
        let mut all = vec!["--database-url", db.as_str()];
        all.extend_from_slice(args);
        certbound(dir.path(), &all)
    };
    let add = |username: &str, role: &str, password: &str| {
        let args = [
            "--database-url",
            db.as_str(),
            "admin",
            "add",
            "--username",
            username,
            "--password-stdin",
            "--role",
            role,
        ];
        certbound_with_stdin(dir.path(), &args, password)
    };

    let (ok, out) = add("Ops@Bank", "admin", "correct horse battery\n");
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "ops@bank (admin)");
    assert!(
        add("-auditor", "viewer", "another long one\n").0,
        "a name starting with '-'"
    );

    for (username, role, password, why) in [
        ("ops@bank", "viewer", "correct horse battery\n", "already exists"),
        ("eve", "root", "correct horse battery\n", "unknown role"),
        ("eve", "admin", "short\n", "password too short"),
        ("eve", "admin", "", "no password"),
        ("eve\u{1b}[31m", "admin", "correct horse battery\n", "bad username"),
    ] {
        let (ok, out) = add(username, role, password);
        assert!(!ok, "{why}: {out}");
    }

    let (ok, out) = run(&["admin", "list", "--json"]);
    assert!(ok, "{out}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["-auditor", "ops@bank"], "nothing else was written");
    assert!(!out.contains("argon2"), "no hash in the listing");

    let store = Store::connect(&db).await.unwrap();
    let admin = store.administrator("ops@bank").await.unwrap().unwrap();
    assert_eq!(admin.role, AdminRole::Admin);
    assert!(admin.password.as_phc().starts_with("$argon2id$"));
    assert!(admin.password.verify("correct horse battery"));

    assert!(run(&["admin", "disable", "OPS@bank"]).0);
    assert_eq!(
        store.administrator("ops@bank").await.unwrap().unwrap().status,
        Status::Disabled
    );
    assert!(run(&["admin", "enable", "ops@bank"]).0);
    assert_eq!(
        store.administrator("ops@bank").await.unwrap().unwrap().status,
        Status::Active
    );
    let (ok, out) = run(&["admin", "disable", "nobody"]);
    assert!(!ok && out.contains("not found"), "{out}");
    store.close().await;
    if let Some(name) = pg_name {
        common::drop_pg_database(&name).await;
    }
}
