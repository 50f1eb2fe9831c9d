//! The `certbound` binary; everything lives in the library.
fn main() -> std::process::ExitCode {
    certbound::cli::main()
}
