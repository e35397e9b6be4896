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
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

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
    let mut engine = engine_for(store, account, must_prove_key)?;
    let (mut ws, _) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async(account.relay.as_str()),
    )
    .await
    .map_err(|_| {
        anyhow::anyhow!(
            "the relay at {} did not answer within 10 seconds",
            account.relay
        )
    })?
    .with_context(|| format!("cannot reach the relay at {}", account.relay))?;

    let mut report = SyncReport::default();
    let mut first_ack: Option<u64> = None;
    let acked = SyncSettings::of(store).acked()?;
    let mut queue = VecDeque::from([Event::Connected {
        cursors: store.cursors()?,
        own_head: store.own_log_head()?,
        acked,
    }]);
    let mut last_heard = Instant::now();
    let mut last_ping = Instant::now();
    let mut own_head = store.own_log_head()?;
    let mut tick = tokio::time::interval(TICK);
    loop {
        let mut applied = 0u64;
        while let Some(event) = queue.pop_front() {
            // Entries to apply are gathered and applied together (a catch-up page is
            // one transaction) before any other effect is carried out.
            let mut to_apply = Vec::new();
            for effect in engine.handle(event) {
                if let Effect::Apply(entry) = effect {
                    to_apply.push(entry);
                    continue;
                }
                applied += apply_entries(store, &mut to_apply, &mut queue, &mut report)?;
                match effect {
                    Effect::Send(frame) => ws
                        .send(Message::Binary(frame.into()))
                        .await
                        .context("the connection to the relay broke")?,
                    Effect::Apply(_) => unreachable!("gathered above"),
                    Effect::Quarantine { entry, reason } => {
                        tracing::warn!(device = %entry.device, seq = entry.seq, %reason, "entry quarantined");
                        store.quarantine_entry(
                            entry.device.as_str(),
                            entry.seq,
                            &reason.to_string(),
                            &entry.sealed,
                        )?;
                        report.quarantined += 1;
                    }
                    Effect::ReadOwnLog { after, limit } => {
                        queue.push_back(Event::OwnEntries(store.own_log_after(after, limit)?));
                    }
                    Effect::ReadOwnEntries { purpose, seqs } => {
                        if purpose == OwnRead::Repair {
                            tracing::warn!(count = seqs.len(), "the relay found entries of this device damaged; sending them again");
                        }
                        queue.push_back(Event::OwnEntriesAt {
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
                        queue.push_back(Event::OwnLogSplit { own_head });
                    }
                    Effect::Rehome { common } => {
                        let new_device = store.rehome(common, SyncSettings::CLEARED_ON_REHOME)?;
                        let _ = ws.close(None).await;
                        return Err(Rehomed { new_device }.into());
                    }
                    Effect::Acknowledged { up_to } => {
                        let first = *first_ack.get_or_insert(up_to);
                        report.uploaded = up_to.saturating_sub(first);
                        SyncSettings::of(store).set_acked(up_to)?;
                    }
                    Effect::CaughtUp => links.reached_live = true,
                    Effect::Failed(SyncError::WrongKey) => return Err(SyncError::WrongKey.into()),
                    Effect::Failed(e) => return Err(e.into()),
                }
            }
            applied += apply_entries(store, &mut to_apply, &mut queue, &mut report)?;
        }
        report.received += applied;
        if applied > 0 {
            if let Some(changes) = links.changes {
                changes.send_modify(|n| *n += 1);
            }
        }
        let up_to_date = engine.is_up_to_date();
        if up_to_date {
            let now = store.now().timestamp_millis();
            SyncSettings::of(store).set_last_synced_at(now)?;
            // Caught up: a quiet moment to fold what was applied into the main file.
            store.checkpoint()?;
        }
        if let Some(status) = links.status {
            let mut next = stored_status(store, true);
            next.state = if up_to_date {
                ConnState::UpToDate
            } else {
                ConnState::Syncing
            };
            next.pending_upload = engine.pending_upload();
            status.send_if_modified(|s| {
                let changed = *s != next;
                *s = next;
                changed
            });
        }
        if up_to_date && matches!(until, Until::UpToDate) {
            let _ = ws.close(None).await;
            return Ok(report);
        }

        let stop = async {
            match links.stop.as_mut() {
                Some(stop) => {
                    let _ = stop.wait_for(|s| *s).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let nudge = async {
            match links.nudges.as_mut() {
                Some(rx) => {
                    if rx.recv().await.is_none() {
                        std::future::pending::<()>().await
                    }
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            msg = ws.next() => {
                last_heard = Instant::now();
                match msg {
                    Some(Ok(Message::Binary(frame))) => queue.push_back(Event::Frame(frame.to_vec())),
                    Some(Ok(Message::Close(_))) | None => bail!("the relay closed the connection"),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e).context("the connection to the relay broke"),
                }
            }
            () = nudge => {
                own_head = store.own_log_head()?;
                queue.push_back(Event::LocalWrite { own_head });
            }
            _ = tick.tick() => {
                // Writes from another process (the command line) show up here.
                let head = store.own_log_head()?;
                if head != own_head {
                    own_head = head;
                    queue.push_back(Event::LocalWrite { own_head });
                }
                if !up_to_date && last_heard.elapsed() > SILENCE_TIMEOUT {
                    bail!("the relay stopped answering");
                }
                if last_ping.elapsed() > PING_EVERY {
                    last_ping = Instant::now();
                    ws.send(Message::Ping(Vec::new().into())).await.context("the connection to the relay broke")?;
                }
            }
            () = stop => {
                let _ = ws.close(None).await;
                return Ok(report);
            }
        }
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
