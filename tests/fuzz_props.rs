//! Every fuzz target (`certbound::fuzzing`) as a bounded property test on stable: its seeds and
//! the committed corpus (`fuzz/corpus/<target>/`) as fixed cases, then generated inputs:
//! random bytes, and seeds with random bytes overwritten, inserted and cut.

use std::path::Path;

use certbound::fuzzing::{Target, TARGETS};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Generated cases per target, on top of the fixed ones.
const CASES: u32 = 3000;

fn fixed_cases(target: &Target) -> Vec<Vec<u8>> {
    let mut cases = (target.seeds)();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target.name);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        cases.extend(files.iter().filter_map(|p| std::fs::read(p).ok()));
    }
    cases
}

/// An edit of a seed: at a fraction of its length, overwrite, insert or cut some bytes.
#[derive(Debug, Clone)]
enum Edit {
    Overwrite(f64, Vec<u8>),
    Insert(f64, Vec<u8>),
    Cut(f64, usize),
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for edit in edits {
        let at = |f: f64, len: usize| ((len as f64) * f) as usize;
        match edit {
            Edit::Overwrite(f, bytes) => {
                let start = at(*f, out.len());
                for (i, b) in bytes.iter().enumerate() {
                    if let Some(slot) = out.get_mut(start + i) {
                        *slot = *b;
                    }
                }
            }
            Edit::Insert(f, bytes) => {
                let start = at(*f, out.len());
                out.splice(start..start, bytes.iter().copied());
            }
            Edit::Cut(f, n) => {
                let start = at(*f, out.len());
                let end = (start + n).min(out.len());
                out.drain(start..end);
            }
        }
    }
    out
}

fn edit() -> impl Strategy<Value = Edit> {
    let bytes = prop::collection::vec(
        prop_oneof![
            any::<u8>(),
            prop::sample::select(b"%+=&,;\\\"#:-\n\0 \x7f\xff".to_vec())
        ],
        1..6,
    );
    prop_oneof![
        (0.0..1.0, bytes.clone()).prop_map(|(f, b)| Edit::Overwrite(f, b)),
        (0.0..1.0, bytes).prop_map(|(f, b)| Edit::Insert(f, b)),
        (0.0..1.0, 1usize..40).prop_map(|(f, n)| Edit::Cut(f, n)),
    ]
}

fn check(name: &str) {
    let target = TARGETS.iter().find(|t| t.name == name).expect("a target");
    let fixed = fixed_cases(target);
    assert!(!fixed.is_empty(), "{name} has seeds");
    for case in &fixed {
        (target.run)(case);
    }
    let input = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        (prop::sample::select(fixed), prop::collection::vec(edit(), 1..4)).prop_map(|(s, e)| apply(&s, &e)),
    ];
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&input, |data| {
            (target.run)(&data);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
}

#[test]
fn form_decoder() {
    check("form");
}

#[test]
fn forwarded_certificate_headers() {
    check("forwarded");
}

#[test]
fn distinguished_names() {
    check("dn");
}

#[test]
fn guard_token_parsing() {
    check("guard");
}

#[test]
fn certificate_input() {
    check("certificate");
}
