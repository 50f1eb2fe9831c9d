//! certbound: an OAuth 2.0 / FAPI 2.0 authorization server that authenticates clients with
//! mutual TLS (RFC 8705) and issues access tokens bound to the client certificate.
//!
//! Modules follow the path of a request: [`tls`] accepts the connection and captures the client
//! certificate, [`pki`] parses and checks it, [`oauth`] runs the endpoint's checks, [`jose`]
//! signs the token, and [`store`] keeps clients, keys and revocations. [`domain`] is the model
//! the authorization server and the resource server ([`rs`]) share. [`admin`] is the operators'
//! web console.

pub mod admin;
pub mod audit;
pub mod cli;
pub mod config;
pub mod demo_bank;
pub mod domain;
pub mod encoding;
pub mod fuzzing;
pub mod jose;
pub mod oauth;
pub mod openbanking;
pub mod pki;
pub mod rs;
pub mod server;
pub mod store;
pub mod tls;
pub mod web;

/// Seconds since the Unix epoch, the unit every timestamp in certbound uses.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch: the audit trail's clock.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Keeps glibc from holding on to large freed blocks. Each sign-in hashes with argon2id in a
/// 19 MiB block; glibc serves the first from `mmap`, then raises its mmap threshold to that size
/// and serves the next ones from the heap, which it never shrinks, so a server that had one
/// sign-in would keep ~20 MiB resident forever. A fixed threshold keeps large blocks mapped and
/// returns them on free. Safe to call more than once.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator tunable; called before any thread relies on
    // the old value, and any value is valid for M_MMAP_THRESHOLD.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Installs aws-lc-rs as the process-wide rustls provider, so TLS and JOSE share one crypto
/// library. Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Writes a file only its owner can read (mode 0600), creating parent directories: for private
/// keys and the key-encryption key.
pub fn write_private_file(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(contents)
}
