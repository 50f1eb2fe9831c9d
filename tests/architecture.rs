//! The layering the code is meant to have, checked from the source: lower layers never import
//! higher ones, and the authorization server (`oauth`) and the resource server (`rs`) share the
//! domain without knowing each other. Crate-root helpers (`crate::now` and the like) are open to
//! every module.

use std::collections::BTreeSet;
use std::path::Path;

/// Each top-level module and the crate modules it may use.
const ALLOWED: &[(&str, &[&str])] = &[
    ("encoding", &[]),
    ("pki", &["encoding"]),
    ("jose", &[]),
    ("domain", &["encoding", "jose", "pki"]),
    ("store", &["domain", "pki"]),
    ("tls", &["encoding", "pki"]),
    ("web", &[]),
    ("audit", &["domain", "encoding", "pki", "store", "tls"]),
    (
        "oauth",
        &["audit", "domain", "encoding", "jose", "pki", "store", "tls", "web"],
    ),
    ("rs", &["domain", "jose", "pki", "store", "tls"]),
    ("openbanking", &["domain", "rs", "store"]),
    ("demo_bank", &["domain", "openbanking", "rs"]),
    (
        "admin",
        &[
            "audit", "domain", "encoding", "jose", "oauth", "pki", "rs", "store", "tls", "web",
        ],
    ),
    ("config", &["audit", "domain", "jose", "pki", "tls"]),
    // Fuzz targets drive the parsers of every layer; nothing imports them.
    ("fuzzing", &["domain", "jose", "oauth", "pki", "rs", "store", "tls"]),
    (
        "server",
        &[
            "admin",
            "audit",
            "config",
            "demo_bank",
            "domain",
            "jose",
            "oauth",
            "openbanking",
            "pki",
            "rs",
            "store",
            "tls",
            "web",
        ],
    ),
    (
        "cli",
        &[
            "admin",
            "audit",
            "config",
            "demo_bank",
            "domain",
            "jose",
            "oauth",
            "pki",
            "rs",
            "server",
            "store",
            "tls",
            "web",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate modules a file names as `crate::module`.
fn crate_modules_used(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let preceded_by_word = text[..i]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if preceded_by_word {
            continue;
        }
        let name: String = text[i + 7..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        used.insert(name);
    }
    used
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules: BTreeSet<&str> = ALLOWED.iter().map(|(m, _)| *m).collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.components().next().unwrap().as_os_str().to_string_lossy();
        let top = top.trim_end_matches(".rs");
        let Some((_, allowed)) = ALLOWED.iter().find(|(m, _)| *m == top) else {
            assert!(
                ["lib", "main"].contains(&top),
                "{} is in no layer: add it to ALLOWED",
                relative.display()
            );
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for used in crate_modules_used(&text) {
            if modules.contains(used.as_str()) && used != top && !allowed.contains(&used.as_str()) {
                violations.push(format!("{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(violations.is_empty(), "layering broken:\n{}", violations.join("\n"));
}

#[test]
fn the_checker_sees_imports() {
    let used = crate_modules_used("use crate::oauth::AppState;\nlet x = crate::now(); // not_crate::rs");
    assert_eq!(used, ["now", "oauth"].into_iter().map(String::from).collect());
}
