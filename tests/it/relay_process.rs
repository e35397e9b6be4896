//! A relay in a child process, as an operator runs it: the `sync-server` binary
//! under a file-descriptor limit of the story's choosing, logging to a file.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::sync_server_bin;

/// A relay in a child process, listening on 127.0.0.1.
pub struct RelayProcess {
    pub addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl RelayProcess {
    /// Starts `sync-server` with `flags` under a descriptor limit of `descriptors`.
    pub fn start(descriptors: u32, flags: &[&str]) -> RelayProcess {
        RelayProcess::start_logging(descriptors, flags, "warn")
    }

    /// As [`RelayProcess::start`], logging at `log` (`SYNC_LOG`) to [`Self::log`].
    pub fn start_logging(descriptors: u32, flags: &[&str], log: &str) -> RelayProcess {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log_file = std::fs::File::create(dir.path().join("relay.log")).unwrap();
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {descriptors} && exec \"$0\" \"$@\""))
            .arg(sync_server_bin())
            .args(["--listen", &addr.to_string(), "--db"])
            .arg(dir.path().join("relay.sqlite"))
            .args(flags)
            .env("SYNC_LOG", log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start sync-server");
        let relay = RelayProcess { addr, child, dir };
        relay.wait_until_up();
        relay
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(self.addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the relay did not start: {}", self.log());
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the relay wrote to its standard error.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("relay.log")).unwrap_or_default()
    }

    /// `GET /metrics`, as text.
    pub async fn metrics(&self) -> String {
        self.get("/metrics").await
    }

    /// `GET path`: the whole response (status line, headers and body) as text.
    pub async fn get(&self, path: &str) -> String {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut bytes = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut bytes))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
