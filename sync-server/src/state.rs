//! What every request handler and session shares: config, store, hub, metrics, stop.

use std::sync::Arc;

use tokio::sync::watch;

use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::RelayStore;
use crate::Config;

/// What every request handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn RelayStore>,
    pub hub: Arc<Hub>,
    pub metrics: Arc<Metrics>,
    pub stop: watch::Receiver<bool>,
    /// This node's random id, for the session count nodes share on PostgreSQL.
    pub node: u64,
    /// The number of the next session on this node.
    sessions: Arc<std::sync::atomic::AtomicU64>,
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn RelayStore>, stop: watch::Receiver<bool>) -> Self {
        AppState {
            config: Arc::new(config),
            store,
            hub: Arc::new(Hub::default()),
            metrics: Arc::new(Metrics::default()),
            stop,
            node: {
                let mut id = [0u8; 8];
                // Without randomness, the time of day still tells nodes apart.
                if getrandom::fill(&mut id).is_err() {
                    id = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos() as u64)
                        .to_le_bytes();
                }
                u64::from_le_bytes(id)
            },
            sessions: Arc::default(),
        }
    }

    /// A key for a new session on this node.
    pub fn session_key(&self) -> crate::store::SessionKey {
        crate::store::SessionKey {
            node: self.node,
            session: self
                .sessions
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}
