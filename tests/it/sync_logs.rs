//! Story: with logging turned all the way up on the relay and on a device, the
//! relay credential in the hello frame appears in neither log.

use std::path::Path;
use std::process::{Command, Output};

use aftercall_shared::crypto::AccountSecret;

use crate::relay_process::RelayProcess;
use crate::support::aftercall_bin;

/// Runs `aftercall` in `dir` with `AFTERCALL_LOG=trace`.
fn aftercall_tracing(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(aftercall_bin())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("AFTERCALL_LOG", "trace")
        .env_remove("AFTERCALL_DATA_DIR")
        .output()
        .expect("run aftercall");
    assert!(
        out.status.success(),
        "aftercall {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn trace_logs_of_relay_and_device_never_show_the_credential() {
    let relay = RelayProcess::start_logging(1024, &[], "trace");
    let dir = tempfile::tempdir().unwrap();
    let init = aftercall_tracing(dir.path(), &["init", "--relay", &relay.url()]);
    let stdout = String::from_utf8(init.stdout).unwrap();
    let phrase = crate::support::phrase_after(&stdout, "Your recovery phrase");
    assert!(
        stdout.contains("The account is ready on the relay"),
        "{stdout}"
    );
    aftercall_tracing(
        dir.path(),
        &["capture", "--with", "Ada", "--talked", "logs"],
    );
    let sync = aftercall_tracing(dir.path(), &["sync"]);

    let credential = AccountSecret::from_phrase(&phrase)
        .unwrap()
        .keys()
        .credential;
    let secret = hex(&credential.0);
    let device_log = format!(
        "{}{}",
        String::from_utf8_lossy(&init.stderr),
        String::from_utf8_lossy(&sync.stderr)
    );
    let relay_log = relay.log();
    // The logs are at trace: the relay's own debug lines are there.
    assert!(relay_log.contains("hello"), "{relay_log}");
    assert!(!device_log.is_empty());
    for (who, log) in [("relay", &relay_log), ("device", &device_log)] {
        assert!(
            !log.contains(&secret) && !log.contains(&secret[..16]),
            "the {who}'s trace log shows the credential"
        );
        assert!(
            !log.contains("<FRAME>"),
            "the {who}'s trace log shows raw websocket frames"
        );
    }
}
