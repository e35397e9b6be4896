//! The backend on desktop and in browser mode: a thread of its own that opens the
//! store, answers the jobs, folds the write-ahead log after writes, and announces
//! local writes and entries the sync task applied.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aftercall_shared::api::Service;
use tokio::sync::{mpsc, oneshot, watch};

use super::{AccountReply, AccountRequest, Backend, Job, NotOpened};
use crate::sync::SyncHandle;

/// How long after a write its write-ahead log is folded into the store's file.
const CHECKPOINT_AFTER: Duration = Duration::from_secs(2);

impl Backend {
    /// Starts the backend thread for the data in `data_dir`; it opens the store
    /// itself. Entries applied by `sync` are announced like local writes, and local
    /// writes tell `sync` to upload.
    pub fn start(data_dir: PathBuf, sync: Option<SyncHandle>) -> Backend {
        let (jobs, jobs_rx) = mpsc::unbounded_channel();
        let (revision_tx, revision) = watch::channel(0u64);
        let (opened_tx, opened) = watch::channel(None);
        let sync_status = sync.as_ref().map(SyncHandle::status);
        let spawned = std::thread::Builder::new()
            .name("aftercall-store".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    Ok(rt) => rt.block_on(serve(data_dir, sync, jobs_rx, revision_tx, opened_tx)),
                    Err(e) => {
                        opened_tx.send_replace(Some(Err(NotOpened::Failed(format!(
                            "cannot start the store's thread: {e}"
                        )))));
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the store's thread");
        }
        Backend::new(jobs, revision, opened, sync_status)
    }
}

/// The backend thread's loop.
async fn serve(
    data_dir: PathBuf,
    sync: Option<SyncHandle>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    revision: watch::Sender<u64>,
    opened: watch::Sender<Option<Result<(), NotOpened>>>,
) {
    let revision = Arc::new(revision);
    let mut service = match crate::data::open_store(&data_dir) {
        Ok(store) => {
            opened.send_replace(Some(Ok(())));
            Some(Service::new(store))
        }
        Err(e) => {
            let message = format!("{e:#}");
            opened.send_replace(Some(Err(NotOpened::Failed(message))));
            None
        }
    };
    let mut synced = sync.as_ref().map(SyncHandle::changes);
    let mut checkpoint_at: Option<tokio::time::Instant> = None;
    loop {
        let checkpoint = async {
            match checkpoint_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let applied = async {
            match synced.as_mut() {
                Some(rx) => {
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            job = jobs.recv() => {
                let Some(job) = job else { break };
                if handle(job, service.as_mut(), &data_dir, sync.as_ref(), &revision) {
                    revision.send_modify(|n| *n += 1);
                    if let Some(sync) = &sync {
                        sync.local_write();
                    }
                    checkpoint_at = Some(tokio::time::Instant::now() + CHECKPOINT_AFTER);
                }
            }
            () = applied => revision.send_modify(|n| *n += 1),
            () = checkpoint => {
                checkpoint_at = None;
                if let Some(service) = &service {
                    if let Err(e) = service.store.checkpoint() {
                        tracing::warn!("folding the store's log: {e}");
                    }
                }
            }
        }
    }
}

/// Does one job; true when it changed data.
fn handle(
    job: Job,
    service: Option<&mut Service>,
    data_dir: &std::path::Path,
    sync: Option<&SyncHandle>,
    revision: &Arc<watch::Sender<u64>>,
) -> bool {
    match job {
        Job::Ask { request, reply } => {
            let answered = super::answer_encoded(service, &request);
            let _ = reply.send(answered.reply);
            answered.wrote
        }
        Job::Account { ask, reply } => {
            let nudge = !matches!(
                ask,
                AccountRequest::RecoveryPhrase | AccountRequest::Devices
            );
            let outcome = account(data_dir, ask, reply, revision.clone());
            if nudge {
                if let Some(sync) = sync {
                    sync.local_write();
                }
            }
            outcome
        }
    }
}

/// Answers a request about the account's devices.
async fn devices(dir: &std::path::Path, ask: AccountRequest) -> anyhow::Result<AccountReply> {
    Ok(match ask {
        AccountRequest::RenameDevice { id, name } => {
            crate::sync::rename_device(dir, &id, &name).await?;
            AccountReply::DeviceRenamed
        }
        AccountRequest::RemoveDevice { id } => {
            crate::sync::remove_device(dir, &id).await?;
            AccountReply::DeviceRemoved
        }
        AccountRequest::RemoveAndRekey { id } => {
            let done = crate::sync::remove_and_rekey(dir, &id).await?;
            AccountReply::Rekeyed {
                phrase: done.phrase,
                left_out: done.left_out,
            }
        }
        _ => AccountReply::Devices(crate::sync::list_devices(dir).await?),
    })
}

/// Answers an account request. Pairing talks to the relay for as long as it takes,
/// so it runs on a thread of its own and the store keeps answering meanwhile.
fn account(
    data_dir: &std::path::Path,
    ask: AccountRequest,
    reply: oneshot::Sender<Result<AccountReply, String>>,
    revision: Arc<watch::Sender<u64>>,
) -> bool {
    let words = |e: anyhow::Error| format!("{e:#}");
    let answer = match ask {
        AccountRequest::Create { relay } => crate::sync::create_account(data_dir, relay.as_deref())
            .map(|phrase| AccountReply::Created { phrase }),
        AccountRequest::SetRelay { relay } => {
            crate::sync::set_relay(data_dir, &relay).map(|()| AccountReply::RelaySet)
        }
        AccountRequest::RecoveryPhrase => {
            crate::sync::recovery_phrase(data_dir).map(AccountReply::RecoveryPhrase)
        }
        // These talk to the relay: on a thread of their own, as pairing does.
        ask @ (AccountRequest::Devices
        | AccountRequest::RenameDevice { .. }
        | AccountRequest::RemoveDevice { .. }
        | AccountRequest::RemoveAndRekey { .. }) => {
            let dir = data_dir.to_path_buf();
            let spawned = std::thread::Builder::new()
                .name("aftercall-devices".into())
                .spawn(move || {
                    let answer = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(anyhow::Error::from)
                        .and_then(|rt| rt.block_on(devices(&dir, ask)));
                    let _ = reply.send(answer.map_err(words));
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot reach the relay about the devices");
            }
            return false;
        }
        AccountRequest::Pair { relay, phrase } => {
            let dir = data_dir.to_path_buf();
            let spawned = std::thread::Builder::new()
                .name("aftercall-pair".into())
                .spawn(move || {
                    let paired = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(anyhow::Error::from)
                        .and_then(|rt| rt.block_on(crate::sync::pair(&dir, &relay, &phrase)));
                    if paired.is_ok() {
                        // The account's data arrived through a connection of its own.
                        revision.send_modify(|n| *n += 1);
                    }
                    let _ = reply.send(paired.map(|_| AccountReply::Paired).map_err(words));
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start pairing");
            }
            return false;
        }
    };
    let _ = reply.send(answer.map_err(words));
    false
}

#[cfg(test)]
mod tests {
    use aftercall_shared::api::{Reply, Request};
    use aftercall_shared::commands::{CaptureDraft, Captured, PersonRef};
    use aftercall_shared::queries::PersonSummary;

    use super::*;

    fn capture(name: &str) -> Request {
        Request::Capture(CaptureDraft {
            people: vec![PersonRef::Named(name.into())],
            talked_about: "pricing".into(),
            ..Default::default()
        })
    }

    #[tokio::test]
    async fn the_backend_answers_on_its_own_thread_and_announces_only_writes() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::start(dir.path().to_path_buf(), None);
        backend.opened().await.unwrap();
        let mut revision = backend.revision();
        let before = *revision.borrow_and_update();
        let people: Vec<PersonSummary> = backend.get(&Request::People { limit: 10 }).await.unwrap();
        assert!(people.is_empty());
        assert!(!revision.has_changed().unwrap(), "a read changes nothing");
        let saved: Captured = backend.get(&capture("Ana")).await.unwrap();
        assert!(saved.people[0].created);
        revision.changed().await.unwrap();
        assert!(*revision.borrow_and_update() > before);
        let people: Vec<PersonSummary> = backend.get(&Request::People { limit: 10 }).await.unwrap();
        assert_eq!(people[0].name, "Ana");
        // A failure is a reply, and announces nothing.
        let failed = backend
            .ask(&Request::Diary {
                person: "nobody".into(),
            })
            .await;
        assert!(matches!(failed, Reply::Failed(_)), "{failed:?}");
        assert!(!revision.has_changed().unwrap());
    }

    #[tokio::test]
    async fn many_screens_asking_at_once_lose_no_capture() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::start(dir.path().to_path_buf(), None);
        let asks = (0..50).map(|i| {
            let backend = backend.clone();
            async move { backend.get::<Captured>(&capture(&format!("P{i}"))).await }
        });
        for saved in futures_util::future::join_all(asks).await {
            saved.unwrap();
        }
        let people: Vec<PersonSummary> =
            backend.get(&Request::People { limit: 100 }).await.unwrap();
        assert_eq!(people.len(), 50);
    }

    #[tokio::test]
    async fn a_data_folder_that_cannot_hold_a_store_is_said_so_and_every_request_fails() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, "x").unwrap();
        let backend = Backend::start(file, None);
        let opened = backend.opened().await.unwrap_err().to_string();
        assert!(opened.contains("is a file, not a directory"), "{opened}");
        let reply = backend.ask(&Request::People { limit: 1 }).await;
        assert!(matches!(reply, Reply::Failed(_)), "{reply:?}");
    }

    #[test]
    #[cfg(debug_assertions)]
    fn opening_the_store_on_the_screens_thread_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let opened = std::thread::spawn(move || {
            crate::data::screens_run_on_this_thread();
            crate::data::open_store(&path).map(drop)
        })
        .join();
        assert!(opened.is_err(), "the screens' thread opened the store");
        // Any other thread may.
        crate::data::open_store(dir.path()).unwrap();
    }
}
