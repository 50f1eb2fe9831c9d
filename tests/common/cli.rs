//! Running the `certbound` binary as an operator would.

use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `certbound args` in `dir`: whether it succeeded, and its output and errors.
pub fn certbound(dir: &Path, args: &[&str]) -> (bool, String) {
    certbound_with_stdin(dir, args, "")
}

/// Runs `certbound` with `stdin` as its standard input.
pub fn certbound_with_stdin(dir: &Path, args: &[&str], stdin: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_certbound"))
        .current_dir(dir)
        .env("CERTBOUND_LOG", "warn")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
