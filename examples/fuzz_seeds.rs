//! Writes each fuzz target's seeds into `fuzz/corpus/<target>/`, the starting corpus for
//! `cargo fuzz run` (docs/security.md, "Fuzzing"). Existing files are kept.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for target in certbound::fuzzing::TARGETS {
        let dir = root.join(target.name);
        std::fs::create_dir_all(&dir)?;
        for (i, seed) in (target.seeds)().iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed)?;
        }
        println!("{}: {}", target.name, dir.display());
    }
    Ok(())
}
