//! Stories: pairing from the command line takes the recovery phrase on standard
//! input (or at a prompt), so it stays out of the process list and shell history;
//! `--phrase` still works but says why it should not be used.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::{aftercall_bin, ok};
use crate::sync_support::Relay;

/// Runs `aftercall --data-dir DIR ARGS…` with `stdin` as its standard input.
fn aftercall_with_input(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(aftercall_bin())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("AFTERCALL_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run aftercall");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The phrase `aftercall init` printed.
fn phrase_of(init: &str) -> String {
    crate::support::phrase_after(init, "Your recovery phrase")
}

#[test]
fn a_device_pairs_with_the_phrase_on_standard_input_and_phrase_on_the_command_line_warns() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(relay_dir.path());
    let phone = tempfile::tempdir().unwrap();
    let phrase = phrase_of(&ok(phone.path(), &["init", "--relay", &relay.url()]));
    ok(
        phone.path(),
        &["capture", "--with", "Ada", "--talked", "phrases"],
    );
    ok(phone.path(), &["sync"]);

    let laptop = tempfile::tempdir().unwrap();
    let paired = aftercall_with_input(
        laptop.path(),
        &["pair", "--relay", &relay.url()],
        &format!("{phrase}\n"),
    );
    let stderr = String::from_utf8_lossy(&paired.stderr);
    assert!(paired.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let said = String::from_utf8_lossy(&paired.stdout);
    assert!(
        said.contains("1 people and 1 conversations are here now"),
        "counts people and conversations, not read-model rows: {said}"
    );
    assert!(ok(laptop.path(), &["diary", "Ada"]).contains("phrases"));

    let tablet = tempfile::tempdir().unwrap();
    let paired = aftercall_with_input(
        tablet.path(),
        &["pair", "--relay", &relay.url(), "--phrase", &phrase],
        "",
    );
    let stderr = String::from_utf8_lossy(&paired.stderr);
    assert!(paired.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning") && stderr.contains("process list"),
        "{stderr}"
    );
    assert!(ok(tablet.path(), &["diary", "Ada"]).contains("phrases"));

    // Nothing on standard input: a clear error, and no account on the device.
    let watch = tempfile::tempdir().unwrap();
    let refused = aftercall_with_input(watch.path(), &["pair", "--relay", &relay.url()], "");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("no recovery phrase"), "{stderr}");
    assert!(!watch.path().join("account.key").exists());
}
