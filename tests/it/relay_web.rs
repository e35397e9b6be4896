//! The relay serving the phone web app from a folder (`sync-server --web DIR`), as an
//! operator runs it: beside `/sync`, `/health` and `/metrics`, which it never hides.

use std::process::Command;

use crate::relay_process::RelayProcess;
use crate::support::sync_server_bin;

#[tokio::test]
async fn the_relay_serves_the_web_app_beside_its_own_routes() {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(
        web.path().join("index.html"),
        "<!doctype html><title>Aftercall</title>",
    )
    .unwrap();
    std::fs::write(web.path().join("app.js"), "export const ok = 1;").unwrap();
    let relay = RelayProcess::start(256, &["--web", web.path().to_str().unwrap()]);

    let index = relay.get("/").await;
    assert!(index.starts_with("HTTP/1.1 200"), "{index}");
    assert!(
        index.contains("content-type: text/html; charset=utf-8"),
        "{index}"
    );
    assert!(
        index.ends_with("<!doctype html><title>Aftercall</title>"),
        "{index}"
    );
    let script = relay.get("/app.js").await;
    assert!(script.contains("content-type: text/javascript"), "{script}");
    assert!(relay
        .get("/../relay.sqlite")
        .await
        .starts_with("HTTP/1.1 404"));
    assert!(relay
        .get("/nothing-here.js")
        .await
        .starts_with("HTTP/1.1 404"));

    let health = relay.get("/health").await;
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok\n"),
        "{health}"
    );
    assert!(
        relay.metrics().await.contains("relay_"),
        "the metrics are still the relay's"
    );
}

#[test]
fn a_web_folder_that_is_not_a_built_app_stops_the_relay_at_start_with_a_reason() {
    let empty = tempfile::tempdir().unwrap();
    for (dir, reason) in [
        (empty.path().to_path_buf(), "has no index.html"),
        (empty.path().join("missing"), "No such file"),
    ] {
        let out = Command::new(sync_server_bin())
            .args(["--listen", "127.0.0.1:0", "--db"])
            .arg(empty.path().join("relay.sqlite"))
            .arg("--web")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("cannot serve the web app from {}", dir.display()))
                && stderr.contains(reason),
            "{stderr}"
        );
    }
}
