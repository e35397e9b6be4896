//! One websocket session to the relay: the socket, its timers and the links to the
//! screens around a [`SessionCore`], which does the work against the store.

use std::path::Path;
use std::time::{Duration, Instant};

use aftercall_shared::crypto::AccountSecret;
use aftercall_shared::Store;
use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use aftercall_shared::sync::SyncError;

use super::account::Account;
use super::core::{MovedAccount, Rehomed, SessionCore, SyncReport};
use super::idle;
use super::settings::{PendingRotation, SyncSettings};
use super::status::SyncStatus;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A relay silent this long while entries are outstanding is treated as gone.
const SILENCE_TIMEOUT: Duration = Duration::from_secs(45);
const PING_EVERY: Duration = Duration::from_secs(20);
const TICK: Duration = Duration::from_secs(2);

/// When a session ends by itself.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Until {
    /// Once caught up and every own entry is acknowledged.
    UpToDate,
    /// Only when `stop` turns true (or the connection fails).
    Stopped,
    /// Once up to date and a checkpoint made then is stored on the relay, or
    /// refused by it.
    CheckpointStored,
    /// Once up to date and the relay has answered the request about the account's
    /// devices given to [`run_session`].
    DevicesAnswered,
    /// Once the re-key given to [`run_session`] is committed (the session then ends
    /// with [`MovedAccount`]).
    Rotated,
}

/// The channels a background session reports to and listens on.
#[derive(Default)]
pub(crate) struct Links<'a> {
    pub status: Option<&'a watch::Sender<SyncStatus>>,
    pub changes: Option<&'a watch::Sender<u64>>,
    pub nudges: Option<&'a mut mpsc::UnboundedReceiver<()>>,
    pub stop: Option<watch::Receiver<bool>>,
    /// Set once the session reached "caught up" (for the driver's backoff).
    pub reached_live: bool,
    /// A request about the account's devices to send once up to date.
    pub device_request: Option<aftercall_shared::protocol::ClientMessage>,
    /// The re-key to make once up to date.
    pub rotation: Option<PendingRotation>,
}

/// Runs one session with the relay until `until`.
pub(crate) async fn run_session(
    store: &mut Store,
    account: &Account,
    must_prove_key: bool,
    until: Until,
    links: &mut Links<'_>,
) -> anyhow::Result<SyncReport> {
    let mut core = SessionCore::connected(store, account, must_prove_key)?;
    if matches!(until, Until::CheckpointStored) {
        core.ask_checkpoint();
    }
    if let Some(request) = links.device_request.take() {
        core.ask_devices(request);
    }
    if let Some(new) = links.rotation.take() {
        core.ask_rotation(store, new)?;
    }
    let idle_after = SyncSettings::of(store).idle_checkpoint_after()?;
    let ws = connect(&account.relay).await?;
    let mut session = Session {
        store,
        core,
        ws,
        links,
        last_heard: Instant::now(),
        last_ping: Instant::now(),
        last_active: Instant::now(),
        idle_after,
        tick: tokio::time::interval(TICK),
    };
    let result = session.run(until).await;
    let _ = session.ws.close(None).await;
    session.links.reached_live = session.core.reached_live;
    result.map(|()| session.core.report())
}

/// The websocket to the relay.
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the websocket to `relay`, giving up after [`CONNECT_TIMEOUT`].
async fn connect(relay: &str) -> anyhow::Result<Socket> {
    let (ws, _) = tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(relay))
        .await
        .map_err(|_| anyhow::anyhow!("the relay at {relay} did not answer within 10 seconds"))?
        .with_context(|| format!("cannot reach the relay at {relay}"))?;
    Ok(ws)
}

/// A connected session: the work, its socket and the links to the screens.
struct Session<'s, 'l> {
    store: &'s mut Store,
    core: SessionCore,
    ws: Socket,
    links: &'s mut Links<'l>,
    last_heard: Instant,
    last_ping: Instant,
    /// The last time an entry was written here or applied, or the session was
    /// behind: what an idle checkpoint waits on.
    last_active: Instant,
    /// How long without an entry counts as idle.
    idle_after: Duration,
    tick: tokio::time::Interval,
}

impl Session<'_, '_> {
    /// Works, sends and tells the screens, then waits for the next input, until
    /// `until` (or an error).
    async fn run(&mut self, until: Until) -> anyhow::Result<()> {
        let mut outbox = Vec::new();
        loop {
            let round = self.core.run(self.store, &mut outbox)?;
            for frame in outbox.drain(..) {
                self.ws
                    .send(Message::Binary(frame.into()))
                    .await
                    .context("the connection to the relay broke")?;
            }
            if round.applied > 0 || !round.up_to_date {
                self.last_active = Instant::now();
            }
            if round.applied > 0 {
                if let Some(changes) = self.links.changes {
                    changes.send_modify(|n| *n += 1);
                }
            }
            if let Some(status) = self.links.status {
                status.send_if_modified(|s| {
                    let changed = *s != round.status;
                    *s = round.status;
                    changed
                });
            }
            let done = match until {
                Until::UpToDate => round.up_to_date,
                Until::CheckpointStored => {
                    let report = self.core.report();
                    round.up_to_date
                        && (report.checkpoint_uploaded.is_some()
                            || report.checkpoint_refused.is_some())
                }
                Until::DevicesAnswered => self.core.report().devices.is_some(),
                Until::Stopped | Until::Rotated => false,
            };
            if done {
                return Ok(());
            }
            let background = matches!(until, Until::Stopped);
            if self.next_input(round.up_to_date, background).await? {
                return Ok(());
            }
        }
    }

    /// Waits for the next input: a frame from the relay, a local write (nudged or
    /// seen at a tick), or `stop` (then true). A broken or silent connection is an
    /// error.
    async fn next_input(&mut self, up_to_date: bool, background: bool) -> anyhow::Result<bool> {
        let stop = stopped(self.links.stop.as_mut());
        let nudge = nudged(self.links.nudges.as_deref_mut());
        tokio::select! {
            msg = self.ws.next() => {
                self.last_heard = Instant::now();
                match msg {
                    Some(Ok(Message::Binary(frame))) => self.core.frame(frame.to_vec()),
                    Some(Ok(Message::Close(_))) | None => bail!("the relay closed the connection"),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e).context("the connection to the relay broke"),
                }
            }
            () = nudge => {
                self.core.notice_writes(self.store)?;
                self.last_active = Instant::now();
            }
            _ = self.tick.tick() => self.on_tick(up_to_date, background).await?,
            () = stop => return Ok(true),
        }
        Ok(false)
    }

    /// Every [`TICK`]: notices writes from another process (the command line),
    /// gives up on a relay silent while entries are outstanding, pings, and in a
    /// background session wants a checkpoint when the desktop is idle on power.
    async fn on_tick(&mut self, up_to_date: bool, background: bool) -> anyhow::Result<()> {
        if self.core.notice_writes(self.store)? {
            self.last_active = Instant::now();
        }
        let idle_for = self.last_active.elapsed();
        if background && up_to_date && idle_for >= self.idle_after {
            let since = self.core.entries_since_checkpoint(self.store)?;
            let power = idle::Power::now();
            if idle::checkpoint_due(idle_for, self.idle_after, power, since) {
                tracing::info!(entries = since, "idle on power: making a checkpoint");
                self.core.want_checkpoint();
            }
            // Looked at again only after another idle spell.
            self.last_active = Instant::now();
        }
        self.core.notice_blobs();
        if !up_to_date && self.last_heard.elapsed() > SILENCE_TIMEOUT {
            bail!("the relay stopped answering");
        }
        if self.last_ping.elapsed() > PING_EVERY {
            self.last_ping = Instant::now();
            self.ws
                .send(Message::Ping(Vec::new().into()))
                .await
                .context("the connection to the relay broke")?;
        }
        Ok(())
    }
}

/// Resolves once `stop` turns true; never without one.
async fn stopped(stop: Option<&mut watch::Receiver<bool>>) {
    match stop {
        Some(stop) => {
            let _ = stop.wait_for(|s| *s).await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Resolves at the next nudge (a local write); never without nudges or once their
/// sender is gone.
async fn nudged(nudges: Option<&mut mpsc::UnboundedReceiver<()>>) {
    match nudges {
        Some(rx) => {
            if rx.recv().await.is_none() {
                std::future::pending::<()>().await
            }
        }
        None => std::future::pending::<()>().await,
    }
}

/// Runs one sync of the device in `data_dir` until it is up to date.
pub async fn sync_once(data_dir: &Path) -> anyhow::Result<SyncReport> {
    sync_until(data_dir, Until::UpToDate).await
}

/// Syncs the device in `data_dir`, then makes a checkpoint of its store and uploads
/// it; returns once the relay has stored it (`checkpoint_uploaded`) or refused it
/// (`checkpoint_refused`).
pub async fn checkpoint_once(data_dir: &Path) -> anyhow::Result<SyncReport> {
    sync_until(data_dir, Until::CheckpointStored).await
}

async fn sync_until(data_dir: &Path, until: Until) -> anyhow::Result<SyncReport> {
    let mut store = crate::data::open_store(data_dir)?;
    let account = Account::load(data_dir, &store)?.context(
        "this device has no account yet; run `aftercall init` or `aftercall pair --relay URL`",
    )?;
    let rotation = super::account::pending_rotation(&store, &account)?;
    run_with_retries(data_dir, &mut store, account, false, until, None, rotation).await
}

/// Moves the account of the device in `data_dir` to `new` (a re-key): syncs, then
/// uploads a checkpoint sealed under the new keys and sends the new secret to
/// every remaining device; then syncs once under the new keys.
pub(crate) async fn rotate(data_dir: &Path, new: PendingRotation) -> anyhow::Result<SyncReport> {
    let mut store = crate::data::open_store(data_dir)?;
    let account = Account::load(data_dir, &store)?.context(
        "this device has no account yet; run `aftercall init` or `aftercall pair --relay URL`",
    )?;
    run_with_retries(
        data_dir,
        &mut store,
        account,
        false,
        Until::Rotated,
        None,
        Some(new),
    )
    .await
}

/// Syncs the device in `data_dir` until up to date, then sends `request` about
/// the account's devices; returns the relay's answer.
pub(crate) async fn ask_devices(
    data_dir: &Path,
    request: aftercall_shared::protocol::ClientMessage,
) -> anyhow::Result<(aftercall_shared::sync::DeviceAnswer, Account)> {
    let mut store = crate::data::open_store(data_dir)?;
    let account = Account::load(data_dir, &store)?.context(
        "this device has no account yet; run `aftercall init` or `aftercall pair --relay URL`",
    )?;
    let report = run_with_retries(
        data_dir,
        &mut store,
        account,
        false,
        Until::DevicesAnswered,
        Some(request),
        None,
    )
    .await?;
    let answer = report
        .devices
        .context("the relay did not answer about the devices; try again")?;
    // The account as it is now (a session may have moved it to a new key).
    let account = Account::load(data_dir, &store)?.context("this device has no account")?;
    Ok((answer, account))
}

/// Runs sessions until one ends as `until` says. A re-homed device connects again
/// at once under its new id, one whose account moved to a new key (a re-key,
/// its own or another device's) keeps the new secret and connects again with it,
/// and one that rejected the relay's checkpoint connects again to ask for the log
/// instead (at most twice: a third time would be a new problem, not this one).
async fn run_with_retries(
    data_dir: &Path,
    store: &mut Store,
    mut account: Account,
    must_prove_key: bool,
    mut until: Until,
    device_request: Option<aftercall_shared::protocol::ClientMessage>,
    mut rotation: Option<PendingRotation>,
) -> anyhow::Result<SyncReport> {
    let mut report = SyncReport::default();
    for attempt in 0.. {
        let mut links = Links {
            device_request: device_request.clone(),
            rotation: rotation.clone(),
            ..Links::default()
        };
        match run_session(store, &account, must_prove_key, until, &mut links).await {
            Ok(done) => {
                report.add(&done);
                return Ok(report);
            }
            Err(e) if attempt < 3 && e.is::<MovedAccount>() => {
                let Ok(moved) = e.downcast::<MovedAccount>() else {
                    unreachable!("checked above")
                };
                super::account::adopt_secret(data_dir, store, &moved.secret)?;
                tracing::info!("the account moved to a new key; syncing with it");
                if moved.rotated_here {
                    report.rotated_to = Some(moved.secret.keys().account);
                    report.left_out.extend(moved.left_out.iter().cloned());
                }
                account.secret = moved.secret;
                account.create = false;
                rotation = None;
                if matches!(until, Until::Rotated) {
                    until = Until::UpToDate;
                }
            }
            Err(e) if attempt < 2 && e.is::<Rehomed>() => {
                tracing::warn!(error = %e, "sync continues as a new device");
            }
            Err(e)
                if attempt < 2 && matches!(e.downcast_ref(), Some(SyncError::BadCheckpoint(_))) =>
            {
                tracing::warn!(error = %e, "sync continues from the log");
                report.checkpoint_rejected = SyncSettings::of(store).rejected_checkpoint()?;
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

/// Pairing: syncs with the relay under `secret` without creating the account, and
/// uploads nothing until the key has opened the account's data.
pub(crate) async fn prove_and_sync(
    data_dir: &Path,
    relay: &str,
    secret: &AccountSecret,
) -> anyhow::Result<SyncReport> {
    let mut store = crate::data::open_store(data_dir)?;
    let account = Account {
        secret: secret.clone(),
        relay: relay.to_string(),
        create: false,
        invite: None,
    };
    run_with_retries(
        data_dir,
        &mut store,
        account,
        true,
        Until::UpToDate,
        None,
        None,
    )
    .await
}
