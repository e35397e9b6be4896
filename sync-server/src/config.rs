//! The relay's settings: where to listen, where the database is, the limits.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// How the relay runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the relay keeps accounts and entries.
    pub db: Database,
    /// New accounts need an invite code issued with `sync-server invite`.
    pub closed_registration: bool,
    pub limits: Limits,
    /// The phone web app's folder, served at `/` when set (`--web DIR`).
    pub web: Option<crate::web::WebRoot>,
    /// Connections to PostgreSQL this node keeps at most (its listener takes one
    /// more). Every node of a deployment needs its pool plus one within the
    /// server's `max_connections`, less its reserved ones.
    pub pg_pool_size: usize,
}

/// The default size of a node's PostgreSQL pool.
pub const DEFAULT_PG_POOL_SIZE: usize = 16;

/// What one account, one frame or one connection may use.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest frame accepted (bytes).
    pub max_message_bytes: usize,
    /// Entries per second one account may upload (sustained).
    pub entries_per_second: u32,
    /// Entries one account may upload in a burst.
    pub entries_burst: u32,
    /// Devices of one account connected at once.
    pub connections_per_account: usize,
    /// Entries per catch-up page.
    pub page_entries: usize,
    /// A device not seen for this long no longer holds pruning back: entries the
    /// newest checkpoint covers are dropped even if it has not applied them, and it
    /// loads the checkpoint when it returns.
    pub inactive_device_after: Duration,
    /// How long a client has to send a request's headers; a connection that has
    /// not sent them whole by then is closed.
    pub header_read_timeout: Duration,
    /// How long a connection that has not become a session may go without a new
    /// request (a silent one, or one that never finishes its request) before it is
    /// closed.
    pub idle_timeout: Duration,
    /// Connections not yet upgraded to a session, from everywhere. Past it, the
    /// oldest of them is closed to make room for the newest.
    pub max_unauthenticated: usize,
    /// Connections not yet upgraded to a session from one address (an IPv6 /64).
    /// Past it, that address's oldest is closed to make room for its newest.
    pub max_unauthenticated_per_ip: usize,
    /// Open connections at most, sessions included. `None`: as many as the file
    /// descriptor limit allows, less a reserve for the database and the relay itself.
    pub max_connections: Option<usize>,
    /// The largest blob (an attachment, sealed) one device may upload, in bytes.
    pub max_blob_bytes: u64,
    /// The sealed bytes of blobs one account may keep on the relay.
    pub blob_quota_bytes: u64,
    /// The most sealed bytes one checkpoint may have; a larger upload is refused
    /// (`CheckpointRefused`, `checkpoint_too_large`) and its chunks dropped.
    pub max_checkpoint_bytes: u64,
    /// The least time between two checkpoint uploads an account begins; one begun
    /// sooner is refused (`rate_limited`). Zero: no bound.
    pub checkpoint_interval: Duration,
}

/// The default limit on one checkpoint's sealed size: 512 MiB. A checkpoint of
/// 100,000 conversations (about 100,500 records, the read model included) seals
/// to about 78 MB (docs/benchmarks.md), so this leaves room for six times that
/// account, while a broken device cannot make the relay store gigabytes.
pub const DEFAULT_MAX_CHECKPOINT_BYTES: u64 = 512 * 1024 * 1024;

/// The default least time between two checkpoint uploads of one account: five
/// minutes. A device makes one every 10,000 entries, or when idle, so an honest
/// account begins one every few hours at most; five minutes stops a device that
/// uploads in a loop while leaving a person who runs `aftercall checkpoint` twice
/// little to wait for.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(5 * 60);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: aftercall_shared::protocol::MAX_FRAME,
            entries_per_second: 2_000,
            entries_burst: 20_000,
            connections_per_account: 16,
            page_entries: 512,
            inactive_device_after: Duration::from_secs(30 * 24 * 3600),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_unauthenticated: 512,
            max_unauthenticated_per_ip: 32,
            max_connections: None,
            max_blob_bytes: 100 * 1024 * 1024,
            blob_quota_bytes: 5 * 1024 * 1024 * 1024,
            max_checkpoint_bytes: DEFAULT_MAX_CHECKPOINT_BYTES,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
        }
    }
}

/// Where the relay keeps its data: a SQLite file (one relay), or a PostgreSQL
/// database that several relay nodes share. `--db` takes either: a
/// `postgres://` or `postgresql://` URL means PostgreSQL, anything else a file.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(PathBuf),
    /// The connection settings; their `Debug` leaves the password out.
    Postgres(Box<tokio_postgres::Config>),
}

/// A `postgres://` URL that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("the PostgreSQL URL does not parse ({0}); write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE")]
pub struct BadDatabaseUrl(#[source] tokio_postgres::Error);

impl FromStr for Database {
    type Err = BadDatabaseUrl;

    fn from_str(text: &str) -> Result<Database, BadDatabaseUrl> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            let config = text.parse().map_err(BadDatabaseUrl)?;
            Ok(Database::Postgres(Box::new(config)))
        } else {
            Ok(Database::Sqlite(PathBuf::from(text)))
        }
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Database {
        Database::Sqlite(path)
    }
}

impl From<&Path> for Database {
    fn from(path: &Path) -> Database {
        Database::Sqlite(path.to_path_buf())
    }
}

impl From<&PathBuf> for Database {
    fn from(path: &PathBuf) -> Database {
        Database::Sqlite(path.clone())
    }
}

impl From<tokio_postgres::Config> for Database {
    fn from(config: tokio_postgres::Config) -> Database {
        Database::Postgres(Box::new(config))
    }
}

impl std::fmt::Display for Database {
    /// For messages: the file, or the database's name (never the password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(config) => write!(
                f,
                "PostgreSQL database {}",
                config.get_dbname().unwrap_or("(the user's own)")
            ),
        }
    }
}

impl Config {
    /// Defaults with the database at `db`.
    pub fn new(db: impl Into<Database>) -> Config {
        Config {
            db: db.into(),
            closed_registration: false,
            limits: Limits::default(),
            web: None,
            pg_pool_size: DEFAULT_PG_POOL_SIZE,
        }
    }
}
