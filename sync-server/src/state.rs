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
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn RelayStore>, stop: watch::Receiver<bool>) -> Self {
        AppState {
            config: Arc::new(config),
            store,
            hub: Arc::new(Hub::default()),
            metrics: Arc::new(Metrics::default()),
            stop,
        }
    }
}
