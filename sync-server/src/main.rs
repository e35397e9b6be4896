//! The `sync-server` binary: `sync-server --listen ADDR --db PATH`, or
//! `sync-server invite --db PATH` to issue an invite code.

use std::path::PathBuf;
use std::time::Duration;

use aftercall_sync_server::{launch_with_listener, store, Config, Database, Limits};
use anyhow::Context;
use clap::{Parser, Subcommand};

/// Aftercall's relay: stores sealed sync entries it cannot read and fans them out.
#[derive(Debug, Parser)]
#[command(name = "sync-server", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SYNC_LISTEN", default_value = "127.0.0.1:8787")]
    listen: String,
    /// The SQLite database file, or a postgres:// URL (several relay nodes share
    /// one PostgreSQL database).
    #[arg(long, global = true, env = "SYNC_DB", default_value = "relay.sqlite")]
    db: Database,
    /// New accounts need an invite code (issue them with `sync-server invite`).
    #[arg(long, env = "SYNC_CLOSED_REGISTRATION")]
    closed_registration: bool,
    /// Largest message accepted, in bytes.
    #[arg(long, env = "SYNC_MAX_MESSAGE_BYTES")]
    max_message_bytes: Option<usize>,
    /// Entries per second one account may upload.
    #[arg(long, env = "SYNC_ENTRIES_PER_SECOND")]
    entries_per_second: Option<u32>,
    /// Devices of one account connected at once.
    #[arg(long, env = "SYNC_CONNECTIONS_PER_ACCOUNT")]
    connections_per_account: Option<usize>,
    /// Seconds a client has to send a request's headers.
    #[arg(long, env = "SYNC_HEADER_READ_TIMEOUT", value_name = "SECS", value_parser = seconds)]
    header_read_timeout: Option<Duration>,
    /// Seconds a connection that is not a session may go without a new request.
    #[arg(long, env = "SYNC_IDLE_TIMEOUT", value_name = "SECS", value_parser = seconds)]
    idle_timeout: Option<Duration>,
    /// Connections not yet upgraded to a session, in all (past it the oldest is closed).
    #[arg(long, env = "SYNC_MAX_UNAUTHENTICATED")]
    max_unauthenticated: Option<usize>,
    /// Connections not yet upgraded to a session from one address (an IPv6 /64).
    #[arg(long, env = "SYNC_MAX_UNAUTHENTICATED_PER_IP")]
    max_unauthenticated_per_ip: Option<usize>,
    /// Open connections at most, sessions included (default: the file descriptor
    /// limit, raised to its hard limit, less a reserve for the database).
    #[arg(long, env = "SYNC_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Seconds after which a device not seen no longer holds pruning back (default:
    /// 30 days); it loads the newest checkpoint when it returns.
    #[arg(long, env = "SYNC_INACTIVE_DEVICE_AFTER", value_name = "SECS", value_parser = seconds)]
    inactive_device_after: Option<Duration>,
    /// Connections to PostgreSQL this node keeps at most (default 16); the node's
    /// listener takes one more. Keep (pool + 1) × nodes within the server's
    /// `max_connections` less its reserved connections.
    #[arg(long, env = "SYNC_PG_POOL_SIZE", value_parser = clap::value_parser!(u16).range(1..))]
    pg_pool_size: Option<u16>,
    /// The largest attachment one device may upload, in sealed bytes (default 100 MiB).
    #[arg(long, env = "SYNC_MAX_BLOB_BYTES")]
    max_blob_bytes: Option<u64>,
    /// The sealed bytes of attachments one account may keep (default 5 GiB).
    #[arg(long, env = "SYNC_BLOB_QUOTA_BYTES")]
    blob_quota_bytes: Option<u64>,
    /// The most sealed bytes one checkpoint may have (default 512 MiB: a checkpoint
    /// of 100,000 conversations seals to about 78 MB, so six times that account
    /// fits). A larger upload is refused and the session goes on.
    #[arg(long, env = "SYNC_MAX_CHECKPOINT_BYTES")]
    max_checkpoint_bytes: Option<u64>,
    /// The least number of seconds between two checkpoint uploads one account
    /// begins (default 300; 0: no bound), so a broken device cannot upload in a loop.
    #[arg(long, env = "SYNC_CHECKPOINT_INTERVAL_SECS", value_name = "SECS")]
    checkpoint_interval_secs: Option<u64>,
    /// Serve the phone web app built into DIR (`bash app/web/build.sh`) at `/`.
    #[arg(long, env = "SYNC_WEB", value_name = "DIR")]
    web: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Issue an invite code for one new account and print it.
    Invite,
}

fn main() -> anyhow::Result<()> {
    let filter = std::env::var("SYNC_LOG").ok();
    tracing_subscriber::util::SubscriberInitExt::init(aftercall_sync_server::logging::subscriber(
        filter.as_deref(),
        "info",
        std::io::stderr,
    ));
    let args = Args::parse();
    if let Some(Command::Invite) = args.command {
        let mut bytes = [0u8; 10];
        getrandom::fill(&mut bytes)
            .map_err(|e| anyhow::anyhow!("no randomness for an invite code: {e}"))?;
        let code: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        tokio::runtime::Runtime::new()?.block_on(async {
            let store = store::open(&args.db)
                .await
                .with_context(|| format!("cannot open the relay database {}", args.db))?;
            anyhow::Ok(store.add_invite(&code).await?)
        })?;
        #[allow(clippy::print_stdout)]
        {
            println!("{code}");
        }
        return Ok(());
    }
    let defaults = Limits::default();
    let web = match &args.web {
        Some(dir) => Some(
            aftercall_sync_server::web::WebRoot::open(dir)
                .with_context(|| format!("cannot serve the web app from {}", dir.display()))?,
        ),
        None => None,
    };
    let config = Config {
        web,
        pg_pool_size: args
            .pg_pool_size
            .map_or(aftercall_sync_server::DEFAULT_PG_POOL_SIZE, usize::from),
        db: args.db,
        closed_registration: args.closed_registration,
        limits: Limits {
            max_message_bytes: args.max_message_bytes.unwrap_or(defaults.max_message_bytes),
            entries_per_second: args
                .entries_per_second
                .unwrap_or(defaults.entries_per_second),
            entries_burst: args
                .entries_per_second
                .map_or(defaults.entries_burst, |r| r.saturating_mul(10)),
            connections_per_account: args
                .connections_per_account
                .unwrap_or(defaults.connections_per_account),
            page_entries: defaults.page_entries,
            inactive_device_after: args
                .inactive_device_after
                .unwrap_or(defaults.inactive_device_after),
            header_read_timeout: args
                .header_read_timeout
                .unwrap_or(defaults.header_read_timeout),
            idle_timeout: args.idle_timeout.unwrap_or(defaults.idle_timeout),
            max_unauthenticated: args
                .max_unauthenticated
                .unwrap_or(defaults.max_unauthenticated),
            max_unauthenticated_per_ip: args
                .max_unauthenticated_per_ip
                .unwrap_or(defaults.max_unauthenticated_per_ip),
            max_connections: args.max_connections.or(defaults.max_connections),
            max_blob_bytes: args.max_blob_bytes.unwrap_or(defaults.max_blob_bytes),
            blob_quota_bytes: args.blob_quota_bytes.unwrap_or(defaults.blob_quota_bytes),
            max_checkpoint_bytes: args
                .max_checkpoint_bytes
                .unwrap_or(defaults.max_checkpoint_bytes),
            checkpoint_interval: args
                .checkpoint_interval_secs
                .map_or(defaults.checkpoint_interval, Duration::from_secs),
        },
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        launch_with_listener(config, listener, shutdown_signal()).await?;
        tracing::info!("stopped; every acknowledged entry is on disk");
        anyhow::Ok(())
    })
}

/// A number of seconds, fractions allowed ("10", "0.5").
fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{text:?} is not a positive number of seconds"))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
