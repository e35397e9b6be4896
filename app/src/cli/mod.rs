//! The command line: the app's binary doubles as a headless tool for scripting.
//! None of these subcommands needs a display.

mod actions;
mod attach;
mod calendar;
mod capture;
mod interop;
mod meetings;
mod report;
mod sync;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;

use clap::{Parser, Subcommand};

/// Capture every networking call in seconds; keep thank-yous, follow-ups and intros honest.
#[derive(Debug, Parser)]
#[command(name = "aftercall", version, about)]
pub struct Cli {
    /// Where the data lives (default: the platform's data directory).
    #[arg(long, global = true, env = "AFTERCALL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Save a conversation: who, what kind, what you talked about, what comes next.
    Capture(capture::CaptureArgs),
    /// Thank-yous to send, follow-ups due, intros to chase.
    Today(report::TodayArgs),
    /// Everyone, or a search over names and every note.
    People(report::PeopleArgs),
    /// Every conversation with one person, in time order.
    Diary(report::DiaryArgs),
    /// Keep a file (a photo, an email, a deck) on a person, or on one of their
    /// conversations with --to.
    Attach(attach::AttachArgs),
    /// A person's attachments and those of their conversations, with ids.
    Attachments(attach::AttachmentsArgs),
    /// Save an attachment to a file, or remove it.
    Attachment(attach::AttachmentArgs),
    /// Calendar meetings that ended and wait for a capture; dismiss one.
    Meetings(meetings::MeetingsArgs),
    /// Calendar subscriptions: list them, subscribe to an address, refresh, unsubscribe.
    Calendar(calendar::CalendarArgs),
    /// Value calls against casual chats for a week, and who deserves a value call.
    Review(report::ReviewArgs),
    /// Mark the thank-yous owed to someone as sent.
    Thanked(actions::ThankedArgs),
    /// Keep in touch with someone every so often (2w, month, quarter, 10d), or off.
    Cadence(actions::CadenceArgs),
    /// Set a weekly goal of value calls (or off).
    Goal(actions::GoalArgs),
    /// Schedule a value call with someone: a follow-up to book it (next week unless --on).
    ValueCall(actions::ValueCallArgs),
    /// Mark a follow-up as done.
    Done(actions::DoneArgs),
    /// Move a follow-up to another day.
    Move(actions::MoveArgs),
    /// Move a referral along: suggested, intro-asked, intro-made, talked.
    Referral(actions::ReferralArgs),
    /// Merge two people who are one: KEEP gains OTHER's details and conversations.
    Merge(actions::MergeArgs),
    /// People who may be one person twice: the same email, phone or name.
    Duplicates(actions::DuplicatesArgs),
    /// Delete a person, conversation or event (it can be restored).
    Delete(actions::IdArgs),
    /// Bring back something deleted (by id), or restore a backup (FILE.json) into an empty store.
    Restore(interop::RestoreArgs),
    /// Add or update people from contacts (.vcf, or LinkedIn or Google CSV), or meetings
    /// from a calendar (.ics).
    Import(interop::ImportArgs),
    /// Write people, conversations or the diary out: vcf, ics, csv, json (backup) or md.
    Export(interop::ExportArgs),
    /// Recreate the lists and the search index from the stored documents.
    Rebuild,
    /// Create a sync account on this device and print its recovery phrase.
    Init(sync::InitArgs),
    /// Join this device to an account with its recovery phrase.
    Pair(sync::PairArgs),
    /// Sync with the relay once (or stay connected with --watch).
    Sync(sync::SyncArgs),
    /// Sync, then upload a checkpoint of everything here, so a new device loads it
    /// instead of replaying every entry and the relay can drop what it holds.
    Checkpoint(sync::CheckpointArgs),
    /// Show the sync status: offline, syncing or up to date; entries waiting; last sync.
    Status(sync::StatusArgs),
    /// Serve the app to a browser on this machine; prints the address it listens on.
    ServeUi(ServeUiArgs),
}

/// Where browser mode listens.
#[derive(Debug, clap::Args)]
pub struct ServeUiArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: std::net::SocketAddr,
}

/// Runs one subcommand to completion.
pub fn run(data_dir: Option<PathBuf>, command: Command) -> anyhow::Result<()> {
    let dir = crate::data::data_dir(data_dir.as_deref())?;
    match command {
        Command::Capture(args) => capture::run(&dir, args),
        Command::Today(args) => report::today(&dir, args),
        Command::People(args) => report::people(&dir, args),
        Command::Diary(args) => report::diary(&dir, args),
        Command::Review(args) => report::review(&dir, args),
        Command::Attach(args) => attach::attach(&dir, args),
        Command::Attachments(args) => attach::attachments(&dir, args),
        Command::Attachment(args) => attach::attachment(&dir, args),
        Command::Meetings(args) => meetings::meetings(&dir, args),
        Command::Calendar(args) => calendar::calendar(&dir, args),
        Command::Cadence(args) => actions::cadence(&dir, args),
        Command::Goal(args) => actions::goal(&dir, args),
        Command::ValueCall(args) => actions::value_call(&dir, args),
        Command::Thanked(args) => actions::thanked(&dir, args),
        Command::Done(args) => actions::done(&dir, args),
        Command::Move(args) => actions::move_follow_up(&dir, args),
        Command::Referral(args) => actions::referral(&dir, args),
        Command::Merge(args) => actions::merge(&dir, args),
        Command::Duplicates(args) => actions::duplicates(&dir, args),
        Command::Delete(args) => actions::delete(&dir, args, true),
        Command::Restore(args) => interop::restore(&dir, args),
        Command::Import(args) => interop::import(&dir, args),
        Command::Export(args) => interop::export(&dir, args),
        Command::Rebuild => actions::rebuild(&dir),
        Command::Init(args) => sync::init(&dir, args),
        Command::Pair(args) => sync::pair(&dir, args),
        Command::Sync(args) => sync::sync(&dir, args),
        Command::Checkpoint(args) => sync::checkpoint(&dir, args),
        Command::Status(args) => sync::status(&dir, args),
        Command::ServeUi(args) => {
            crate::ui::serve::serve(dir, args.listen, |addr| out(&format!("http://{addr}/")))
        }
    }
}

/// Asks the store through the API, as the screens do; a failure becomes the
/// command's error.
pub(crate) fn ask(
    store: &mut aftercall_shared::Store,
    request: aftercall_shared::api::Request,
) -> anyhow::Result<aftercall_shared::api::Reply> {
    match store.answer(&request) {
        aftercall_shared::api::Reply::Failed(failure) => Err(anyhow::anyhow!(failure.message)),
        reply => Ok(reply),
    }
}

/// The error for a reply of another shape than the request's.
pub(crate) fn unexpected(reply: aftercall_shared::api::Reply) -> anyhow::Error {
    anyhow::anyhow!("the store answered with something else: {reply:?}")
}

/// Now, in the local time zone: what date words are read against.
pub(crate) fn local_now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Local::now().fixed_offset()
}

/// Prints a value as pretty JSON on standard output.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    out(&text);
    Ok(())
}

/// Standard output was closed by its reader (`aftercall people | head`).
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// The first error writing standard output, other than it being closed.
static STDOUT_FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Writes a line to standard output (the one place the command line prints results).
/// Once the reader has closed it, further lines are dropped: the command finishes
/// its work and [`output_failure`] tells `main` how to end.
pub(crate) fn out(text: &str) {
    if STDOUT_CLOSED.load(Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{text}") {
        output_error(&e);
    }
}

/// Notes a failed write to standard output.
pub(crate) fn output_error(e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        STDOUT_CLOSED.store(true, Relaxed);
    } else {
        let mut failed = STDOUT_FAILED.lock().unwrap_or_else(|p| p.into_inner());
        failed.get_or_insert_with(|| e.to_string());
    }
}

/// Whether standard output's reader has gone away.
pub(crate) fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Relaxed)
}

/// How a command's output went.
#[derive(Debug, PartialEq, Eq)]
pub enum OutputFailure {
    /// The reader closed standard output early; nothing is wrong.
    Closed,
    /// Writing failed otherwise (a full disk, say).
    Failed(String),
}

/// Why output went missing, if it did. `err`: the command's own error, which may be
/// the closed pipe itself (a large write to standard output fails with it); any
/// other error is never hidden behind a closed pipe.
pub fn output_failure(err: Option<&anyhow::Error>) -> Option<OutputFailure> {
    let broken_pipe = err.is_some_and(|e| {
        e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        })
    });
    if broken_pipe || (err.is_none() && stdout_closed()) {
        return Some(OutputFailure::Closed);
    }
    let failed = STDOUT_FAILED.lock().unwrap_or_else(|p| p.into_inner());
    failed.clone().map(OutputFailure::Failed)
}
