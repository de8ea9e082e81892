//! The release or debug binary as its own process, as an operator runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The binary, killed when dropped (a failing assertion must not leave it running).
pub struct Proc(pub Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with these extra flags.
pub fn spawn_with(data_dir: &std::path::Path, backend: &str, flags: &[&str]) -> (Proc, String) {
    let mut child = Proc(
        Command::new(env!("CARGO_BIN_EXE_sessionkeeper"))
            .args(["serve", "--port", "0", "--laravel-api-url", backend, "--data-dir"])
            .arg(data_dir)
            .args(flags)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the binary"),
    );
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let addr =
        line.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).expect(&line).to_owned();
    (child, format!("http://{addr}"))
}
