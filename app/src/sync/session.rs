//! One websocket session: the engine's effects performed against the store.

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use aftercall_shared::crypto::{AccountSecret, OpenEntry};
use aftercall_shared::protocol::DeviceId;
use aftercall_shared::sync::{Effect, Engine, EngineOptions, Event, OwnRead, SyncError};
use aftercall_shared::{RemoteEntry, Store};
use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::account::Account;
use super::settings::SyncSettings;
use super::status::{stored_status, ConnState, SyncStatus};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A relay silent this long while entries are outstanding is treated as gone.
const SILENCE_TIMEOUT: Duration = Duration::from_secs(45);
const PING_EVERY: Duration = Duration::from_secs(20);
const TICK: Duration = Duration::from_secs(2);

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Entries of other devices applied here.
    pub received: u64,
    /// Own entries the relay acknowledged in this session.
    pub uploaded: u64,
    /// Entries set aside in this session.
    pub quarantined: u64,
}

/// A session ended because this device's log on the relay belongs to another copy
/// of its data folder; the device now has a new id and should connect again at once.
#[derive(Debug)]
pub struct Rehomed {
    pub new_device: String,
}

impl std::fmt::Display for Rehomed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "this data folder was copied or restored, so it continues as a new device ({}) and sends its changes again",
            self.new_device
        )
    }
}

impl std::error::Error for Rehomed {}

impl SyncReport {
    fn add(&mut self, other: &SyncReport) {
        self.received += other.received;
        self.uploaded += other.uploaded;
        self.quarantined += other.quarantined;
    }
}

/// When a session ends by itself.
pub(crate) enum Until {
    /// Once caught up and every own entry is acknowledged.
    UpToDate,
    /// Only when `stop` turns true (or the connection fails).
    Stopped,
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
}

fn engine_for(store: &Store, account: &Account, must_prove_key: bool) -> anyhow::Result<Engine> {
    let device = DeviceId::new(store.device_id())
        .map_err(|e| anyhow::anyhow!("this store's device id is not usable for sync: {e}"))?;
    Ok(Engine::new(
        account.secret.keys(),
        device,
        EngineOptions {
            create_account: account.create,
            invite: account.invite.clone(),
            must_prove_key,
        },
    ))
}

/// Runs one session with the relay until `until`.
pub(crate) async fn run_session(
    store: &mut Store,
    account: &Account,
    must_prove_key: bool,
    until: Until,
    links: &mut Links<'_>,
) -> anyhow::Result<SyncReport> {
    let engine = engine_for(store, account, must_prove_key)?;
    let ws = connect(&account.relay).await?;
    let mut session = Session::start(store, engine, ws, links)?;
    loop {
        let applied = session.perform_queued().await?;
        let up_to_date = session.publish(applied)?;
        if up_to_date && matches!(until, Until::UpToDate) {
            return Ok(session.close().await);
        }
        match session.next_input(up_to_date).await? {
            Woken::Event(event) => session.queue.push_back(event),
            Woken::Idle => {}
            Woken::Stopped => return Ok(session.close().await),
        }
    }
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

/// What waiting for the next input brought.
enum Woken {
    /// Something for the engine to decide on.
    Event(Event),
    /// Only time passed, or a frame that is not for the engine arrived.
    Idle,
    /// `stop` turned true.
    Stopped,
}

/// A connected session: the engine, its socket and what it has done so far.
struct Session<'s, 'l> {
    store: &'s mut Store,
    engine: Engine,
    ws: Socket,
    /// Events waiting for the engine.
    queue: VecDeque<Event>,
    report: SyncReport,
    /// The first acknowledgement of this session; uploads are counted from it.
    first_ack: Option<u64>,
    links: &'s mut Links<'l>,
    last_heard: Instant,
    last_ping: Instant,
    /// The own log's head as last told to the engine.
    own_head: u64,
    tick: tokio::time::Interval,
}

impl<'s, 'l> Session<'s, 'l> {
    /// A session that has just connected: its first event tells the engine where
    /// the store stands.
    fn start(
        store: &'s mut Store,
        engine: Engine,
        ws: Socket,
        links: &'s mut Links<'l>,
    ) -> anyhow::Result<Self> {
        let acked = SyncSettings::of(store).acked()?;
        let queue = VecDeque::from([Event::Connected {
            cursors: store.cursors()?,
            own_head: store.own_log_head()?,
            acked,
        }]);
        let own_head = store.own_log_head()?;
        Ok(Session {
            store,
            engine,
            ws,
            queue,
            report: SyncReport::default(),
            first_ack: None,
            links,
            last_heard: Instant::now(),
            last_ping: Instant::now(),
            own_head,
            tick: tokio::time::interval(TICK),
        })
    }

    /// Hands every queued event to the engine and performs the effects it returns,
    /// until the queue is empty. Returns how many entries of other devices were
    /// applied.
    async fn perform_queued(&mut self) -> anyhow::Result<u64> {
        let mut applied = 0u64;
        while let Some(event) = self.queue.pop_front() {
            // Entries to apply are gathered and applied together (a catch-up page is
            // one transaction) before any other effect is carried out.
            let mut to_apply = Vec::new();
            for effect in self.engine.handle(event) {
                if let Effect::Apply(entry) = effect {
                    to_apply.push(entry);
                    continue;
                }
                applied += self.apply(&mut to_apply)?;
                self.perform(effect).await?;
            }
            applied += self.apply(&mut to_apply)?;
        }
        self.report.received += applied;
        Ok(applied)
    }

    /// Applies the gathered entries (see [`apply_entries`]).
    fn apply(&mut self, to_apply: &mut Vec<OpenEntry>) -> anyhow::Result<u64> {
        apply_entries(self.store, to_apply, &mut self.queue, &mut self.report)
    }

    /// Performs one effect other than [`Effect::Apply`]; what it reads from the
    /// store goes back to the engine through the queue.
    async fn perform(&mut self, effect: Effect) -> anyhow::Result<()> {
        let store = &mut *self.store;
        match effect {
            Effect::Send(frame) => self
                .ws
                .send(Message::Binary(frame.into()))
                .await
                .context("the connection to the relay broke")?,
            Effect::Apply(_) => unreachable!("gathered by perform_queued"),
            Effect::Quarantine { entry, reason } => {
                tracing::warn!(device = %entry.device, seq = entry.seq, %reason, "entry quarantined");
                store.quarantine_entry(
                    entry.device.as_str(),
                    entry.seq,
                    &reason.to_string(),
                    &entry.sealed,
                )?;
                self.report.quarantined += 1;
            }
            Effect::ReadOwnLog { after, limit } => {
                self.queue
                    .push_back(Event::OwnEntries(store.own_log_after(after, limit)?));
            }
            Effect::ReadOwnEntries { purpose, seqs } => {
                if purpose == OwnRead::Repair {
                    tracing::warn!(
                        count = seqs.len(),
                        "the relay found entries of this device damaged; sending them again"
                    );
                }
                self.queue.push_back(Event::OwnEntriesAt {
                    purpose,
                    entries: store.own_log_at(&seqs)?,
                });
            }
            Effect::SplitOwnLog { from } => {
                let own_head = store.split_own_log_from(from)?;
                tracing::warn!(
                    from,
                    own_head,
                    "own entries too large for the relay were split"
                );
                self.queue.push_back(Event::OwnLogSplit { own_head });
            }
            Effect::Rehome { common } => {
                let new_device = store.rehome(common, SyncSettings::CLEARED_ON_REHOME)?;
                let _ = self.ws.close(None).await;
                return Err(Rehomed { new_device }.into());
            }
            Effect::Acknowledged { up_to } => {
                let first = *self.first_ack.get_or_insert(up_to);
                self.report.uploaded = up_to.saturating_sub(first);
                SyncSettings::of(store).set_acked(up_to)?;
            }
            Effect::CaughtUp => self.links.reached_live = true,
            Effect::Failed(SyncError::WrongKey) => return Err(SyncError::WrongKey.into()),
            Effect::Failed(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Tells the screens what changed: the change counter when entries were applied,
    /// and the status. Up to date, the time is recorded and the store checkpointed.
    /// Returns whether the session is up to date.
    fn publish(&mut self, applied: u64) -> anyhow::Result<bool> {
        if applied > 0 {
            if let Some(changes) = self.links.changes {
                changes.send_modify(|n| *n += 1);
            }
        }
        let up_to_date = self.engine.is_up_to_date();
        if up_to_date {
            let now = self.store.now().timestamp_millis();
            SyncSettings::of(self.store).set_last_synced_at(now)?;
            // Caught up: a quiet moment to fold what was applied into the main file.
            self.store.checkpoint()?;
        }
        if let Some(status) = self.links.status {
            let mut next = stored_status(self.store, true);
            next.state = if up_to_date {
                ConnState::UpToDate
            } else {
                ConnState::Syncing
            };
            next.pending_upload = self.engine.pending_upload();
            status.send_if_modified(|s| {
                let changed = *s != next;
                *s = next;
                changed
            });
        }
        Ok(up_to_date)
    }

    /// Waits for the next input: a frame from the relay, a local write (nudged or
    /// seen at a tick), or `stop`. A broken or silent connection is an error.
    async fn next_input(&mut self, up_to_date: bool) -> anyhow::Result<Woken> {
        let stop = stopped(self.links.stop.as_mut());
        let nudge = nudged(self.links.nudges.as_deref_mut());
        tokio::select! {
            msg = self.ws.next() => {
                self.last_heard = Instant::now();
                match msg {
                    Some(Ok(Message::Binary(frame))) => Ok(Woken::Event(Event::Frame(frame.to_vec()))),
                    Some(Ok(Message::Close(_))) | None => bail!("the relay closed the connection"),
                    Some(Ok(_)) => Ok(Woken::Idle),
                    Some(Err(e)) => Err(e).context("the connection to the relay broke"),
                }
            }
            () = nudge => {
                self.own_head = self.store.own_log_head()?;
                Ok(Woken::Event(Event::LocalWrite { own_head: self.own_head }))
            }
            _ = self.tick.tick() => self.on_tick(up_to_date).await,
            () = stop => Ok(Woken::Stopped),
        }
    }

    /// Every [`TICK`]: notices writes from another process (the command line),
    /// gives up on a relay silent while entries are outstanding, and pings.
    async fn on_tick(&mut self, up_to_date: bool) -> anyhow::Result<Woken> {
        let mut woken = Woken::Idle;
        let head = self.store.own_log_head()?;
        if head != self.own_head {
            self.own_head = head;
            woken = Woken::Event(Event::LocalWrite { own_head: head });
        }
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
        Ok(woken)
    }

    /// Closes the connection cleanly; returns what the session did.
    async fn close(mut self) -> SyncReport {
        let _ = self.ws.close(None).await;
        self.report
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
    let mut store = crate::data::open_store(data_dir)?;
    let account = Account::load(data_dir, &store)?.context(
        "this device has no account yet; run `aftercall init` or `aftercall pair --relay URL`",
    )?;
    let mut report = SyncReport::default();
    // A re-homed device connects again at once under its new id (at most twice: a
    // second copy found under the new id would be a new problem, not this one).
    for attempt in 0.. {
        match run_session(
            &mut store,
            &account,
            false,
            Until::UpToDate,
            &mut Links::default(),
        )
        .await
        {
            Ok(done) => {
                report.add(&done);
                return Ok(report);
            }
            Err(e) if attempt < 2 && e.is::<Rehomed>() => {
                tracing::warn!(error = %e, "sync continues as a new device");
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
) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(data_dir)?;
    let account = Account {
        secret: secret.clone(),
        relay: relay.to_string(),
        create: false,
        invite: None,
    };
    run_session(
        &mut store,
        &account,
        true,
        Until::UpToDate,
        &mut Links::default(),
    )
    .await?;
    Ok(())
}

/// Applies the entries the engine handed over in one transaction. Any that cannot be
/// applied are quarantined and the engine is told, so everything else keeps syncing.
/// Returns how many were applied (re-deliveries are not counted).
fn apply_entries(
    store: &mut Store,
    to_apply: &mut Vec<OpenEntry>,
    queue: &mut VecDeque<Event>,
    report: &mut SyncReport,
) -> anyhow::Result<u64> {
    if to_apply.is_empty() {
        return Ok(0);
    }
    let results = {
        let entries: Vec<RemoteEntry<'_>> = to_apply
            .iter()
            .map(|e| RemoteEntry {
                device: e.device.as_str(),
                seq: e.seq,
                plaintext: &e.plaintext,
            })
            .collect();
        store
            .apply_remote_entries(&entries)
            .context("cannot save entries from the relay")?
    };
    let mut applied = 0;
    for (entry, result) in to_apply.drain(..).zip(results) {
        match result {
            Ok(true) => applied += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(device = %entry.device, seq = entry.seq, error = %e, "entry quarantined");
                store.quarantine_entry(
                    entry.device.as_str(),
                    entry.seq,
                    &format!("cannot be applied: {e}"),
                    &[],
                )?;
                report.quarantined += 1;
                queue.push_back(Event::ApplyFailed {
                    device: entry.device,
                    seq: entry.seq,
                });
            }
        }
    }
    Ok(applied)
}
