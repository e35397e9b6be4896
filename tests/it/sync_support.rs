//! What the sync stories share: a real relay on 127.0.0.1 port 0 that can be
//! stopped, killed and restarted on its database, and devices each with their own
//! data directory and SQLite file.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use aftercall_app::sync::{self, SyncReport};
use aftercall_shared::commands::{CaptureDraft, PersonRef};
use aftercall_shared::model::InteractionKind;
use aftercall_shared::Store;
use aftercall_sync_server::{launch_with_listener, Config, Database};
use tempfile::TempDir;

/// A relay running on its own runtime, so killing it drops every session at once.
pub struct Relay {
    pub addr: SocketAddr,
    pub db: Database,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Relay {
    /// A new relay with a fresh database in `dir`.
    pub fn start(dir: &Path) -> Relay {
        Relay::start_with(story_config(dir.join("relay.sqlite")), "127.0.0.1:0")
    }

    /// A relay with `config`, listening on `addr`.
    pub fn start_with(config: Config, addr: &str) -> Relay {
        let listener = bind(addr);
        let addr = listener.local_addr().unwrap();
        let db = config.db.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done) = tokio::sync::oneshot::channel();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = launch_with_listener(config, listener, shutdown).await {
                panic!("relay failed: {e}");
            }
            let _ = done_tx.send(());
        });
        Relay {
            addr,
            db,
            runtime: Some(runtime),
            stop: Some(stop),
            done: Some(done),
        }
    }

    /// The address devices are given.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful shutdown, as on SIGTERM: sessions close, the relay returns.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), done).await;
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    /// A crash: every task dropped mid-flight, nothing flushed on purpose.
    pub fn kill(mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    /// Starts again on the same address and database.
    pub fn restart(addr: SocketAddr, db: &Database) -> Relay {
        Relay::start_with(story_config(db.clone()), &addr.to_string())
    }

    /// `GET path`: the whole response (status line, headers and body) as text.
    pub async fn get(&self, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut bytes = Vec::new();
        tokio::time::timeout(Duration::from_secs(15), tcp.read_to_end(&mut bytes))
            .await
            .expect("the relay answers within 15 s")
            .unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The SQLite file of a relay started on one.
    pub fn sqlite_path(&self) -> &Path {
        match &self.db {
            Database::Sqlite(path) => path,
            Database::Postgres(_) => panic!("this relay runs on PostgreSQL"),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The relay's defaults, but with no least time between two checkpoint uploads:
/// stories make checkpoints back to back (the interval has stories of its own in
/// `sync_checkpoint_quota.rs`).
pub fn story_config(db: impl Into<Database>) -> Config {
    let mut config = Config::new(db);
    config.limits.checkpoint_interval = Duration::ZERO;
    config
}

/// Binds `addr`, retrying while a killed relay still holds the port.
fn bind(addr: &str) -> std::net::TcpListener {
    for _ in 0..100 {
        if let Ok(l) = std::net::TcpListener::bind(addr) {
            l.set_nonblocking(true).unwrap();
            return l;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("cannot bind {addr}");
}

/// One device: its own data directory and SQLite store.
pub struct Device {
    pub name: &'static str,
    dir: TempDir,
}

impl Device {
    pub fn new(name: &'static str) -> Device {
        Device {
            name,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn store(&self) -> Store {
        aftercall_app::data::open_store(self.dir()).unwrap()
    }

    /// Saves a conversation with `person` about `talked_about`; returns its id.
    pub fn capture(
        &self,
        person: &str,
        talked_about: &str,
    ) -> aftercall_shared::model::InteractionId {
        let draft = CaptureDraft {
            people: vec![PersonRef::Named(person.to_string())],
            kind: InteractionKind::Value,
            talked_about: talked_about.to_string(),
            ..Default::default()
        };
        self.store().capture(&draft).unwrap().interaction_id
    }

    /// One sync until up to date; panics with the reason if it fails.
    pub async fn sync(&self) -> SyncReport {
        match sync::sync_once(self.dir()).await {
            Ok(report) => report,
            Err(e) => panic!("{} could not sync: {e:#}", self.name),
        }
    }

    /// Every read-model row, for comparing devices, with text cells readable.
    pub fn snapshot(&self) -> Vec<String> {
        self.store()
            .read_model_snapshot()
            .unwrap()
            .iter()
            .map(|row| readable(row))
            .collect()
    }

    /// The device's own credential, as its hello shows it (no name).
    pub fn device_key(&self) -> aftercall_shared::protocol::DeviceKey {
        let hex = self
            .store()
            .setting("sync.device_secret")
            .unwrap()
            .expect("the device has synced");
        aftercall_shared::protocol::DeviceKey {
            credential: aftercall_shared::crypto::DeviceSecret::from_hex(&hex)
                .unwrap()
                .credential(),
            sealed_name: Vec::new(),
        }
    }

    /// Whether any row of the read model mentions `text`.
    pub fn knows(&self, text: &str) -> bool {
        self.snapshot().iter().any(|row| row.contains(text))
    }
}

/// A snapshot row with its `Text([bytes…])` cells shown as the text they hold.
pub fn readable(row: &str) -> String {
    let mut out = String::with_capacity(row.len());
    let mut rest = row;
    while let Some(start) = rest.find("Text([") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let Some(end) = after.find("])") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let bytes: Vec<u8> = after[..end]
            .split(", ")
            .filter_map(|b| b.trim().parse().ok())
            .collect();
        out.push_str(&format!("Text({:?})", String::from_utf8_lossy(&bytes)));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `n` devices of one account on `relay`: the first creates it, the others pair.
pub async fn account(relay: &Relay, names: &[&'static str]) -> (Vec<Device>, String) {
    let devices: Vec<Device> = names.iter().map(|n| Device::new(n)).collect();
    let phrase = sync::create_account(devices[0].dir(), Some(&relay.url())).unwrap();
    devices[0].sync().await;
    for d in &devices[1..] {
        sync::pair(d.dir(), &relay.url(), &phrase).await.unwrap();
    }
    (devices, phrase)
}

/// Syncs every device twice in the given order, so each sees what later ones sent.
pub async fn sync_all(devices: &[&Device]) {
    for _ in 0..2 {
        for d in devices {
            d.sync().await;
        }
    }
}

/// Asserts every device holds the same read model, and returns it.
pub fn assert_converged(devices: &[&Device]) -> Vec<String> {
    let first = devices[0].snapshot();
    for d in &devices[1..] {
        assert_eq!(
            d.snapshot(),
            first,
            "{} and {} differ",
            devices[0].name,
            d.name
        );
    }
    first
}

/// A bare protocol client, for playing a replaying, forging or greedy device.
pub struct RawClient {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl RawClient {
    pub async fn connect(relay: &Relay) -> RawClient {
        let url = format!("ws://{}/sync", relay.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        RawClient { ws }
    }

    pub async fn send(&mut self, msg: &aftercall_shared::protocol::ClientMessage) {
        self.send_bytes(msg.encode()).await;
    }

    pub async fn send_bytes(&mut self, frame: Vec<u8>) {
        use futures_util::SinkExt;
        self.ws
            .send(tokio_tungstenite::tungstenite::Message::Binary(
                frame.into(),
            ))
            .await
            .unwrap();
    }

    /// The next message from the relay, or `None` once it closed.
    pub async fn next(&mut self) -> Option<aftercall_shared::protocol::ServerMessage> {
        let frame = self.next_frame().await?;
        Some(aftercall_shared::protocol::ServerMessage::decode(&frame).unwrap())
    }

    /// The next frame from the relay as it came, or `None` once it closed.
    pub async fn next_frame(&mut self) -> Option<Vec<u8>> {
        use futures_util::StreamExt;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("the relay answers within 10 s");
            match msg {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Binary(b))) => {
                    return Some(b.to_vec())
                }
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))
                | None
                | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Says hello as `device` of the account of `phrase`, with a credential of its
    /// own made up for it; returns everything up to "caught up" (or the refusal).
    pub async fn hello(
        &mut self,
        phrase: &str,
        device: &str,
        create: bool,
    ) -> Vec<aftercall_shared::protocol::ServerMessage> {
        self.hello_with(phrase, device, create, raw_device_key(device))
            .await
    }

    /// As [`RawClient::hello`], showing `key` as the device's own credential.
    pub async fn hello_with(
        &mut self,
        phrase: &str,
        device: &str,
        create: bool,
        key: aftercall_shared::protocol::DeviceKey,
    ) -> Vec<aftercall_shared::protocol::ServerMessage> {
        use aftercall_shared::protocol::{ClientMessage, DeviceId, ServerMessage};
        let keys = aftercall_shared::crypto::AccountSecret::from_phrase(phrase)
            .unwrap()
            .keys();
        self.send(&ClientMessage::Hello {
            account: keys.account,
            credential: keys.credential,
            device: DeviceId::new(device).unwrap(),
            create,
            invite: None,
            cursors: vec![],
            device_key: Some(key),
        })
        .await;
        let mut out = Vec::new();
        while let Some(msg) = self.next().await {
            if let ServerMessage::CheckpointOffer { .. } = msg {
                // The log, not the checkpoint.
                self.send(&ClientMessage::TakeCheckpoint { checkpoint: None })
                    .await;
            }
            let end = matches!(msg, ServerMessage::CaughtUp | ServerMessage::Refused(_));
            out.push(msg);
            if end {
                break;
            }
        }
        out
    }
}

/// The own credential a raw client registers as `device` (the same every time,
/// so it is let in again), with no name.
pub fn raw_device_key(device: &str) -> aftercall_shared::protocol::DeviceKey {
    let mut credential = [0x5a; 32];
    for (i, b) in device.bytes().enumerate() {
        credential[i % 32] ^= b;
    }
    aftercall_shared::protocol::DeviceKey {
        credential: aftercall_shared::protocol::Credential(credential),
        sealed_name: Vec::new(),
    }
}

/// The sealed entries in a hello's answer.
pub fn entries_of(
    msgs: &[aftercall_shared::protocol::ServerMessage],
) -> Vec<aftercall_shared::protocol::SealedEntry> {
    msgs.iter()
        .flat_map(|m| match m {
            aftercall_shared::protocol::ServerMessage::Entries { entries } => entries.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// The refusal code in a list of messages, if any.
pub fn refusal_of(
    msgs: &[aftercall_shared::protocol::ServerMessage],
) -> Option<aftercall_shared::protocol::RefusalCode> {
    msgs.iter().find_map(|m| match m {
        aftercall_shared::protocol::ServerMessage::Refused(r) => Some(r.code),
        _ => None,
    })
}
