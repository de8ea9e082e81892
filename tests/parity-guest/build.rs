//! Bakes a fingerprint of the sources the driver runs (the core's and this crate's) into the
//! build, so the parity test can tell a real difference from a build skew (sources edited
//! between the native and the wasm build).

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let here = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let core = here.join("../../core");
    let inputs = [core.join("src"), core.join("Cargo.toml"), here.join("src"), here.join("Cargo.toml")];
    let mut files = Vec::new();
    for input in &inputs {
        println!("cargo:rerun-if-changed={}", input.display());
        if input.is_dir() {
            collect(input, &mut files);
        } else {
            files.push(input.clone());
        }
    }
    files.sort();
    // FNV-1a over (relative path, contents) of every file.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for file in &files {
        let relative = file.strip_prefix(&here).unwrap_or(file);
        feed(relative.to_string_lossy().as_bytes());
        feed(&std::fs::read(file).unwrap_or_default());
    }
    println!("cargo:rustc-env=SK_SOURCE_FINGERPRINT={hash:016x}");
}
