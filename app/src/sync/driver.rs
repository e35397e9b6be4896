//! The background sync task and the handle the UI holds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::account::Account;
use super::core::{MovedAccount, Rehomed};
use super::session::{run_session, Links, Until};
use super::status::{stored_status, ConnState, SyncStatus};

const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(60);

/// The running sync task. Clones share it; it stops on [`SyncHandle::stop`].
#[derive(Clone)]
pub struct SyncHandle {
    inner: Arc<Inner>,
}

struct Inner {
    status: watch::Receiver<SyncStatus>,
    changes: watch::Receiver<u64>,
    nudge: mpsc::UnboundedSender<()>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for SyncHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHandle")
            .field("status", &*self.inner.status.borrow())
            .finish()
    }
}

impl SyncHandle {
    /// Starts syncing the device in `data_dir` on a thread of its own (with its own
    /// small tokio runtime), so it never blocks the caller or the UI. Without an
    /// account the status is [`ConnState::NoAccount`] until one is created or paired.
    pub fn start(data_dir: PathBuf) -> SyncHandle {
        // What was last recorded, so a paired device never shows "no account" first.
        let first =
            super::status::read_status(&data_dir).unwrap_or_else(|_| SyncStatus::no_account());
        let (status_tx, status) = watch::channel(first);
        let (changes_tx, changes) = watch::channel(0u64);
        let (nudge, nudge_rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let spawned = std::thread::Builder::new()
            .name("aftercall-sync".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => {
                        rt.block_on(drive(data_dir, status_tx, changes_tx, nudge_rx, stop_rx))
                    }
                    Err(e) => tracing::error!(error = %e, "cannot start the sync runtime"),
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the sync thread");
        }
        SyncHandle {
            inner: Arc::new(Inner {
                status,
                changes,
                nudge,
                stop,
            }),
        }
    }

    /// The sync status, updated as it changes.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.inner.status.clone()
    }

    /// A counter bumped whenever entries from other devices were applied.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.clone()
    }

    /// Tells the task the device wrote something: upload it now.
    pub fn local_write(&self) {
        let _ = self.inner.nudge.send(());
    }

    /// Stops the task (the connection is closed cleanly).
    pub fn stop(&self) {
        self.inner.stop.send_replace(true);
    }
}

async fn drive(
    data_dir: PathBuf,
    status: watch::Sender<SyncStatus>,
    changes: watch::Sender<u64>,
    mut nudges: mpsc::UnboundedReceiver<()>,
    stop: watch::Receiver<bool>,
) {
    let mut retry = FIRST_RETRY;
    loop {
        if *stop.borrow() {
            return;
        }
        let mut store = match crate::data::open_store(&data_dir) {
            Ok(store) => store,
            Err(e) => {
                status.send_modify(|s| {
                    s.state = ConnState::Offline;
                    s.last_error = Some(format!("{e:#}"));
                });
                wait(retry, &stop, &mut nudges, None).await;
                continue;
            }
        };
        let account = match Account::load(&data_dir, &store) {
            Ok(Some(account)) => account,
            Ok(None) => {
                status.send_replace(stored_status(&store, false));
                // A nudge (or the periodic check) notices an account created meanwhile.
                wait(Duration::from_secs(3), &stop, &mut nudges, None).await;
                continue;
            }
            Err(e) => {
                let mut s = stored_status(&store, true);
                s.last_error = Some(format!("{e:#}"));
                status.send_replace(s);
                wait(Duration::from_secs(3), &stop, &mut nudges, None).await;
                continue;
            }
        };
        let mut connecting = stored_status(&store, true);
        connecting.state = ConnState::Connecting;
        connecting.last_error = status.borrow().last_error.clone();
        status.send_replace(connecting);

        let mut links = Links {
            status: Some(&status),
            changes: Some(&changes),
            nudges: Some(&mut nudges),
            stop: Some(stop.clone()),
            reached_live: false,
            device_request: None,
            // A re-key begun here and cut short resumes.
            rotation: match super::account::pending_rotation(&store, &account) {
                Ok(rotation) => rotation,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot read the re-key begun here");
                    None
                }
            },
        };
        let result = run_session(&mut store, &account, false, Until::Stopped, &mut links).await;
        if links.reached_live {
            retry = FIRST_RETRY;
        }
        let mut offline = stored_status(&store, true);
        match result {
            Ok(_) if *stop.borrow() => {
                status.send_replace(offline);
                return;
            }
            Ok(_) => {}
            // A new device id: connect again at once, under it.
            Err(e) if e.is::<Rehomed>() => {
                tracing::warn!(error = %e, "sync continues as a new device");
                continue;
            }
            // The account moved to a new key: keep it, and connect again at once.
            Err(e) if e.is::<MovedAccount>() => {
                let Ok(moved) = e.downcast::<MovedAccount>() else {
                    unreachable!("checked above")
                };
                match super::account::adopt_secret(&data_dir, &store, &moved.secret) {
                    Ok(()) => {
                        tracing::info!("the account moved to a new key; syncing with it");
                        continue;
                    }
                    Err(e) => offline.last_error = Some(format!("{e:#}")),
                }
            }
            // Removed from the account: the relay will refuse it every time.
            Err(e)
                if e.downcast_ref::<aftercall_shared::sync::SyncError>()
                    .is_some_and(|e| e.is_device_removed() || e.is_account_rekeyed()) =>
            {
                tracing::warn!(error = %format!("{e:#}"), "this device no longer syncs with the account");
                offline.state = if e
                    .downcast_ref::<aftercall_shared::sync::SyncError>()
                    .is_some_and(|e| e.is_account_rekeyed())
                {
                    ConnState::Rekeyed
                } else {
                    ConnState::Removed
                };
                offline.last_error = Some(format!("{e:#}"));
                status.send_replace(offline);
                let mut stop = stop.clone();
                let _ = stop.wait_for(|s| *s).await;
                return;
            }
            Err(e) => {
                tracing::info!(error = %format!("{e:#}"), retry_in = ?retry, "sync offline");
                offline.last_error = Some(format!("{e:#}"));
            }
        }
        status.send_replace(offline);
        wait(retry, &stop, &mut nudges, Some((&status, &store))).await;
        retry = (retry * 2).min(LONGEST_RETRY);
    }
}

/// Waits `delay` (or until stopped), keeping the pending count fresh as local
/// writes are announced.
async fn wait(
    delay: Duration,
    stop: &watch::Receiver<bool>,
    nudges: &mut mpsc::UnboundedReceiver<()>,
    refresh: Option<(&watch::Sender<SyncStatus>, &aftercall_shared::Store)>,
) {
    let deadline = tokio::time::Instant::now() + delay;
    let mut stop = stop.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return,
            _ = stop.wait_for(|s| *s) => return,
            got = nudges.recv() => {
                if got.is_none() {
                    tokio::time::sleep_until(deadline).await;
                    return;
                }
                if let Some((status, store)) = refresh {
                    let fresh = stored_status(store, true);
                    status.send_modify(|s| s.pending_upload = fresh.pending_upload);
                }
            }
        }
    }
}
