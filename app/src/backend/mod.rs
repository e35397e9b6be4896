//! The backend: what owns the store and answers the screens' requests, sent as
//! encoded bytes over a channel (as they will cross to a web worker), and announces
//! every change (its own writes and entries the sync task applied) so views ask
//! again. The screens hold a [`Backend`], the handle here, and never the store; on
//! desktop and in browser mode `thread` serves it from a thread of its own
//! ([`Backend::start`]).

use std::sync::Arc;

use aftercall_shared::api::{self, Failure, FailureKind, FromReply, Reply, Request, Service};
use tokio::sync::{mpsc, oneshot, watch};

use crate::sync::SyncStatus;

#[cfg(not(target_arch = "wasm32"))]
mod thread;

/// The handle the screens hold. Clones share one backend thread.
#[derive(Clone)]
pub struct Backend {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: mpsc::UnboundedSender<Job>,
    revision: watch::Receiver<u64>,
    opened: watch::Receiver<Option<Result<(), NotOpened>>>,
    sync_status: Option<watch::Receiver<SyncStatus>>,
}

impl PartialEq for Backend {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("revision", &*self.inner.revision.borrow())
            .finish()
    }
}

/// Why the store is not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotOpened {
    /// Another tab of the app holds it (the phone web app); the sentence says what
    /// to do.
    InUse(String),
    /// It could not be opened: the sentence says why.
    Failed(String),
}

impl std::fmt::Display for NotOpened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotOpened::InUse(why) | NotOpened::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for NotOpened {}

/// Work for the backend.
#[derive(Debug)]
pub enum Job {
    /// An encoded [`Request`]; the encoded [`Reply`] goes back.
    Ask {
        request: Vec<u8>,
        reply: oneshot::Sender<Vec<u8>>,
    },
    /// Something about the account (files beside the store, the relay).
    Account {
        ask: AccountRequest,
        reply: oneshot::Sender<Result<AccountReply, String>>,
    },
}

/// What the Sync & devices screen asks about the account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AccountRequest {
    /// Make a new account on this device (created on the relay at the first sync).
    Create { relay: Option<String> },
    /// Join the account of `phrase` on `relay`, proving the key first.
    Pair { relay: String, phrase: String },
    /// Sync with another relay.
    SetRelay { relay: String },
    /// The account's recovery phrase, to show.
    RecoveryPhrase,
    /// The account's devices, from the relay.
    Devices,
    /// Gives the device `id` the name `name`.
    RenameDevice { id: String, name: String },
    /// Removes the device `id` from the account.
    RemoveDevice { id: String },
    /// Removes the device `id` and moves the account to a new key (a lost phone).
    RemoveAndRekey { id: String },
}

/// The answers to an [`AccountRequest`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AccountReply {
    /// The recovery phrase of a new account.
    Created {
        phrase: String,
    },
    Paired,
    RelaySet,
    RecoveryPhrase(Option<String>),
    Devices(Vec<crate::sync::DeviceRow>),
    DeviceRenamed,
    DeviceRemoved,
    /// The device was removed and the account moved to a new key: its new
    /// recovery phrase, and the devices to pair again with it.
    Rekeyed {
        phrase: String,
        left_out: Vec<String>,
    },
}

impl Backend {
    /// A handle on a backend that reads `jobs`, raises `revision` after every change,
    /// says in `opened` whether its store opened, and publishes the sync task's
    /// status in `sync_status` when there is one.
    pub fn new(
        jobs: mpsc::UnboundedSender<Job>,
        revision: watch::Receiver<u64>,
        opened: watch::Receiver<Option<Result<(), NotOpened>>>,
        sync_status: Option<watch::Receiver<SyncStatus>>,
    ) -> Backend {
        Backend {
            inner: Arc::new(Inner {
                jobs,
                revision,
                opened,
                sync_status,
            }),
        }
    }

    /// Whether the store opened, once it is known.
    pub async fn opened(&self) -> Result<(), NotOpened> {
        let mut opened = self.inner.opened.clone();
        let state = match opened.wait_for(Option::is_some).await {
            Ok(state) => state.clone().unwrap_or(Ok(())),
            Err(_) => Err(NotOpened::Failed("the store's thread stopped".into())),
        };
        state
    }

    /// Asks one request and waits for its reply.
    pub async fn ask(&self, request: &Request) -> Reply {
        let (reply, answer) = oneshot::channel();
        let sent = self.inner.jobs.send(Job::Ask {
            request: api::encode(request),
            reply,
        });
        let bytes = match (sent, answer.await) {
            (Ok(()), Ok(bytes)) => bytes,
            _ => return stopped(),
        };
        api::decode(&bytes).unwrap_or_else(|e| {
            Reply::Failed(Failure {
                kind: FailureKind::Store,
                message: e.to_string(),
            })
        })
    }

    /// Asks and takes the reply's typed content.
    pub async fn get<T: FromReply>(&self, request: &Request) -> Result<T, Failure> {
        T::from_reply(self.ask(request).await)
    }

    /// Asks something about the account.
    pub async fn account(&self, ask: AccountRequest) -> Result<AccountReply, String> {
        let (reply, answer) = oneshot::channel();
        if self.inner.jobs.send(Job::Account { ask, reply }).is_err() {
            return Err("the store's thread stopped".into());
        }
        answer
            .await
            .unwrap_or_else(|_| Err("the store's thread stopped".into()))
    }

    /// A counter raised after every change to the data, local or synced.
    pub fn revision(&self) -> watch::Receiver<u64> {
        self.inner.revision.clone()
    }

    /// The sync task's status as it changes, when this backend syncs.
    pub fn sync_status(&self) -> Option<watch::Receiver<SyncStatus>> {
        self.inner.sync_status.clone()
    }
}

/// One request answered: the encoded reply, whether the request changed data, and
/// which request it was (when it could be read).
#[derive(Debug)]
pub struct Answered {
    pub reply: Vec<u8>,
    pub wrote: bool,
    pub name: Option<&'static str>,
}

/// Answers one encoded request against the store (`None`: it could not be opened),
/// as the backend does wherever it runs.
pub fn answer_encoded(service: Option<&mut Service>, request: &[u8]) -> Answered {
    let (answer, wrote, name) = match (api::decode::<Request>(request), service) {
        (Err(e), _) => (Reply::Failed(Failure::from(&e)), false, None),
        (Ok(request), None) => (
            Reply::Failed(Failure {
                kind: FailureKind::Store,
                message: "the store could not be opened".into(),
            }),
            false,
            Some(request.name()),
        ),
        (Ok(request), Some(service)) => {
            let span = tracing::debug_span!("request", kind = request.name());
            let _entered = span.enter();
            let answer = service.answer(&request);
            let wrote = request.writes() && !matches!(answer, Reply::Failed(_));
            (answer, wrote, Some(request.name()))
        }
    };
    Answered {
        reply: api::encode(&answer),
        wrote,
        name,
    }
}

fn stopped() -> Reply {
    Reply::Failed(Failure {
        kind: FailureKind::Store,
        message: "the store's thread stopped".into(),
    })
}
