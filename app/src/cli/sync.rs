//! `aftercall init`, `pair`, `sync`, `checkpoint` and `status`: sync from the command
//! line.

use std::path::Path;

use anyhow::Context;

use super::{out, print_json};
use crate::sync::{self as device_sync, ConnState, SyncHandle};

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The relay to sync with: http(s):// or ws(s):// address.
    #[arg(long, value_name = "URL")]
    pub relay: Option<String>,
    /// An invite code, for a relay with closed registration.
    #[arg(long, value_name = "CODE")]
    pub invite: Option<String>,
    /// This device's name in the account's list of devices (the host name if left out).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct PairArgs {
    /// The relay the account syncs with: http(s):// or ws(s):// address.
    #[arg(long, value_name = "URL")]
    pub relay: String,
    /// The 24-word recovery phrase shown on the first device. Better left out: it is
    /// then asked for without echo (or read as one line from standard input), instead
    /// of showing in the process list and staying in the shell history.
    #[arg(long, value_name = "WORDS")]
    pub phrase: Option<String>,
    /// This device's name in the account's list of devices (the host name if left out).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DevicesArgs {
    #[command(subcommand)]
    pub action: Option<DevicesAction>,
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum DevicesAction {
    /// Give a device a new name.
    Rename {
        /// The device's name now (or its id).
        old: String,
        /// Its new name.
        new: String,
    },
    /// Remove a device from the account: it is cut off at once.
    Remove {
        /// The device's name (or its id).
        name: String,
        /// Also move the account to a new key (a lost or stolen device): the
        /// removed device can read nothing written afterwards, the other devices
        /// move over by themselves, and a new recovery phrase replaces the old one.
        #[arg(long)]
        rekey: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Stay connected, reconnecting with backoff, until interrupted.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    /// Print what was uploaded as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the network runtime")
}

/// The name given with `--name`, checked before anything is set up.
fn device_name(name: Option<&str>) -> anyhow::Result<Option<aftercall_shared::crypto::DeviceName>> {
    Ok(name
        .map(aftercall_shared::crypto::DeviceName::new)
        .transpose()?)
}

pub fn init(dir: &Path, args: InitArgs) -> anyhow::Result<()> {
    let name = device_name(args.name.as_deref())?;
    let phrase = device_sync::create_account_with_invite(
        dir,
        args.relay.as_deref(),
        args.invite.as_deref(),
    )?;
    if let Some(name) = &name {
        device_sync::set_device_name(dir, name)?;
    }
    out("Your recovery phrase (write it down; it is the only way to read your data on a new device):");
    out("");
    out(&phrase);
    out("");
    if args.relay.is_some() {
        match runtime()?.block_on(device_sync::sync_once(dir)) {
            Ok(_) => out("The account is ready on the relay. Pair another device with `aftercall pair`."),
            Err(e) => out(&format!(
                "The relay could not be reached yet ({e:#}); `aftercall sync` will create the account there."
            )),
        }
    } else {
        out("No relay set: data stays on this device until you run `aftercall init` elsewhere or set a relay.");
    }
    Ok(())
}

pub fn pair(dir: &Path, args: PairArgs) -> anyhow::Result<()> {
    let name = device_name(args.name.as_deref())?;
    let phrase = match args.phrase {
        Some(phrase) => {
            warn(
                "warning: --phrase shows the recovery phrase to other users in the process list \
                 and keeps it in your shell history; leave it out to be asked for it instead",
            );
            phrase
        }
        None => read_phrase()?,
    };
    if let Some(name) = &name {
        device_sync::set_device_name(dir, name)?;
    }
    runtime()?.block_on(device_sync::pair(dir, &args.relay, &phrase))?;
    let status = device_sync::read_status(dir)?;
    let (people, conversations) = count_records(dir)?;
    out(&format!(
        "Paired with the account on {}. {people} people and {conversations} conversations are here now.",
        status.relay.unwrap_or_default(),
    ));
    Ok(())
}

/// The recovery phrase: asked for without echo at a terminal, else the first line of
/// standard input.
fn read_phrase() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    let phrase = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Recovery phrase (24 words, not shown as you type): ")
            .context("cannot read the recovery phrase from the terminal")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the recovery phrase from standard input")?;
        line
    };
    if phrase.trim().is_empty() {
        anyhow::bail!("no recovery phrase given: type it at the prompt, or pipe it in on one line");
    }
    Ok(phrase)
}

/// A note for the person at the terminal, kept off standard output.
fn warn(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// How many people and conversations the device in `dir` holds.
fn count_records(dir: &Path) -> anyhow::Result<(usize, usize)> {
    let counts = crate::data::open_store(dir)?.record_counts()?;
    Ok((counts.people, counts.interactions))
}

pub fn sync(dir: &Path, args: SyncArgs) -> anyhow::Result<()> {
    let rt = runtime()?;
    if !args.watch {
        let report = rt.block_on(device_sync::sync_once(dir))?;
        out(&format!(
            "Up to date: {} entries received, {} uploaded{}{}.",
            report.received,
            report.uploaded,
            match report.quarantined {
                0 => String::new(),
                n => format!(", {n} set aside as unreadable (see `aftercall status`)"),
            },
            match (report.blobs_downloaded, report.blobs_uploaded) {
                (0, 0) => String::new(),
                (down, up) => format!("; attachments: {down} downloaded, {up} uploaded"),
            }
        ));
        for (_, refusal) in &report.blobs_refused {
            warn(&format!(
                "An attachment was not synced: {}",
                refusal.message
            ));
        }
        for (_, fault) in &report.blobs_rejected {
            warn(&format!(
                "An attachment from the relay was rejected: {fault}"
            ));
        }
        return Ok(());
    }
    rt.block_on(async {
        let handle = SyncHandle::start(dir.to_path_buf());
        let mut status = handle.status();
        let mut shown = None;
        loop {
            let now = status.borrow_and_update().clone();
            let line = describe(&now);
            if shown.as_ref() != Some(&line) {
                out(&line);
                shown = Some(line);
            }
            if super::stdout_closed() {
                break;
            }
            tokio::select! {
                changed = status.changed() => if changed.is_err() { break },
                _ = tokio::signal::ctrl_c() => break,
            }
        }
        handle.stop();
        anyhow::Ok(())
    })
}

pub fn status(dir: &Path, args: StatusArgs) -> anyhow::Result<()> {
    let status = device_sync::read_status(dir)?;
    if args.json {
        return print_json(&serde_json::json!({
            "state": format!("{:?}", status.state),
            "relay": status.relay,
            "pending_upload": status.pending_upload,
            "last_synced_at": status.last_synced_at,
            "quarantined": status.quarantined,
            "last_checkpoint": status.last_checkpoint,
            "checkpoint_refused": status.checkpoint_refused,
        }));
    }
    out(&describe(&status));
    Ok(())
}

fn describe(s: &device_sync::SyncStatus) -> String {
    let state = match s.state {
        ConnState::NoAccount => "no account: run `aftercall init` or `aftercall pair`",
        ConnState::Offline => "offline",
        ConnState::Connecting => "connecting",
        ConnState::Syncing => "syncing",
        ConnState::UpToDate => "up to date",
        ConnState::Removed => "removed from the account on another device: this device no longer syncs; to sync here again, pair a fresh data folder with the recovery phrase",
        ConnState::Rekeyed => "the account was re-keyed on another device and this device was not moved to the new key: to sync here again, pair a fresh data folder with the new recovery phrase",
    };
    let mut line = state.to_string();
    if let Some(relay) = &s.relay {
        line.push_str(&format!(" · relay {relay}"));
    }
    line.push_str(&format!(" · {} waiting to upload", s.pending_upload));
    match s
        .last_synced_at
        .and_then(chrono::DateTime::from_timestamp_millis)
    {
        Some(at) => line.push_str(&format!(
            " · last synced {}",
            at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M")
        )),
        None => line.push_str(" · never synced"),
    }
    if s.quarantined > 0 {
        line.push_str(&format!(" · {} entries set aside", s.quarantined));
    }
    let local = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|at| {
                at.with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_default()
    };
    if let Some(words) = s.checkpoint_words(local) {
        line.push_str(&format!(" · {}", words.to_lowercase()));
    }
    if let Some(words) = s.checkpoint_refused_words(local) {
        line.push_str(&format!(" · {words}"));
    }
    if let Some(t) = &s.attachments {
        line.push_str(&format!(" · {}", t.words()));
    }
    if let Some(e) = &s.attachment_problem {
        line.push_str(&format!(" · {e}"));
    }
    if let Some(e) = &s.last_error {
        line.push_str(&format!(" · last error: {e}"));
    }
    line
}

/// `aftercall checkpoint`: syncs, then uploads a checkpoint of this device's store
/// and says what it uploaded.
pub fn checkpoint(dir: &Path, args: CheckpointArgs) -> anyhow::Result<()> {
    let report = runtime()?.block_on(device_sync::checkpoint_once(dir))?;
    if let Some((checkpoint, refusal)) = &report.checkpoint_refused {
        anyhow::bail!(
            "the relay refused checkpoint {checkpoint}: {} ({}); everything else is synced",
            refusal.message,
            refusal.code.as_str()
        );
    }
    let made = report
        .checkpoint_uploaded
        .context("the relay did not confirm the checkpoint; run `aftercall checkpoint` again")?;
    if args.json {
        return print_json(&serde_json::json!({
            "checkpoint": made.id.to_hex(),
            "documents": made.documents,
            "entries": made.entries,
            "chunks": made.chunks,
            "bytes": made.bytes,
        }));
    }
    out(&format!(
        "Checkpoint {} uploaded: {} documents holding {} entries, {} chunks, {} bytes sealed.",
        made.id, made.documents, made.entries, made.chunks, made.bytes
    ));
    Ok(())
}

/// `aftercall devices`: lists the account's devices, or renames or removes one.
pub fn devices(dir: &Path, args: DevicesArgs) -> anyhow::Result<()> {
    let rt = runtime()?;
    match args.action {
        Some(DevicesAction::Rename { old, new }) => {
            let renamed = rt.block_on(device_sync::rename_device(dir, &old, &new))?;
            out(&format!("Renamed {old:?} to {:?}.", renamed.label()));
        }
        Some(DevicesAction::Remove { name, rekey: true }) => {
            let done = rt.block_on(device_sync::remove_and_rekey(dir, &name))?;
            match &done.removed {
                Some(removed) => out(&format!(
                    "Removed {:?}, and moved the account to a new key: {:?} can read nothing written from now on.",
                    removed.label(),
                    removed.label()
                )),
                None => out("Finished the re-key begun before: the account is on its new key."),
            }
            out("The other devices move to the new key by themselves when they next sync.");
            for name in &done.left_out {
                out(&format!(
                    "{name:?} is an older version without a key to receive the new one: pair it again with the new recovery phrase."
                ));
            }
            out("New recovery phrase (the old one no longer works; write it down now and keep it apart from your devices):");
            out(&done.phrase);
        }
        Some(DevicesAction::Remove { name, rekey: false }) => {
            let removed = rt.block_on(device_sync::remove_device(dir, &name))?;
            out(&format!(
                "Removed {:?}: the relay no longer lets it in. It still holds the recovery phrase's key and what it had synced.",
                removed.label()
            ));
        }
        None => {
            let devices = rt.block_on(device_sync::list_devices(dir))?;
            if args.json {
                return print_json(&devices);
            }
            for d in &devices {
                let seen = match d
                    .last_seen
                    .and_then(|s| chrono::DateTime::from_timestamp(s as i64, 0))
                {
                    Some(at) => format!(
                        "last seen {}",
                        at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M")
                    ),
                    None => "never seen".to_string(),
                };
                out(&format!(
                    "{}{} · {seen} · {} entries waiting",
                    d.label(),
                    if d.this_device { " (this device)" } else { "" },
                    d.waiting
                ));
            }
        }
    }
    Ok(())
}
