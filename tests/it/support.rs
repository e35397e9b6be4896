//! What the stories share: the built `aftercall` binary and fresh data directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace's target directory, as cargo uses it for this run.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// The `aftercall` binary, built (once per test run) from the current sources.
pub fn aftercall_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| build("aftercall-app", "aftercall"))
        .clone()
}

/// The relay's `sync-server` binary, built (once per test run) from the current sources.
pub fn sync_server_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| build("aftercall-sync-server", "sync-server"))
        .clone()
}

fn build(package: &str, bin: &str) -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build -p {package} failed");
    target_dir().join("debug").join(bin)
}

/// Runs `aftercall --data-dir DIR ARGS…` to completion.
pub fn aftercall(dir: &Path, args: &[&str]) -> Output {
    Command::new(aftercall_bin())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("AFTERCALL_DATA_DIR")
        .output()
        .expect("run aftercall")
}

/// Runs a command that must succeed; returns its standard output.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = aftercall(dir, args);
    assert!(
        out.status.success(),
        "aftercall {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a command that must fail; returns its standard error.
pub fn fails(dir: &Path, args: &[&str]) -> String {
    let out = aftercall(dir, args);
    assert!(
        !out.status.success(),
        "aftercall {args:?} should have failed"
    );
    String::from_utf8(out.stderr).expect("utf-8 output")
}

/// Runs a command with `--json` and parses what it printed.
pub fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_str(&ok(dir, &args)).expect("valid JSON")
}

/// The first line after the line of `output` that starts with `heading`: the
/// recovery phrase `aftercall init` ("Your recovery phrase") or a re-key ("New
/// recovery phrase") printed.
pub fn phrase_after(output: &str, heading: &str) -> String {
    output
        .lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip(1)
        .find(|l| !l.trim().is_empty())
        .expect("the recovery phrase")
        .trim()
        .to_string()
}
