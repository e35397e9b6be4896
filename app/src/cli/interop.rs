//! `aftercall import | export | restore`: contacts in, notes out, backups back.

use std::io::Write;
use std::path::{Path, PathBuf};

use aftercall_shared::interop::{
    parse_contacts, Backup, CalendarImportOptions, CalendarImportReport, FileKind, ImportOptions,
    ImportReport, MarkdownLayout, Outcome, VcardVersion,
};
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use super::out;
use crate::format;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Contacts (.vcf) from a phone or address book, LinkedIn's connections or
    /// Google Contacts as CSV, or a calendar (.ics): told apart by what the file holds.
    file: PathBuf,
    /// Show what would be added and updated, but write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Your own email address in the calendar (repeat for more), so that you are
    /// not counted among the people you met.
    #[arg(long = "me", value_name = "EMAIL")]
    me: Vec<String>,
}

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Everyone as vCards, for address books.
    Vcf,
    /// Follow-ups and thank-yous to send, for calendars.
    Ics,
    /// One row per conversation, for spreadsheets.
    Csv,
    /// A complete backup, for `aftercall restore`.
    Json,
    /// The diary as Markdown: one file per person (with --out DIR) or one file.
    Md,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// Where to write (default: standard output). For `md`, an existing directory
    /// gets one file per person.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// vCard version for `--format vcf`: 3 or 4.
    #[arg(long, value_name = "3|4", default_value = "4")]
    vcard_version: String,
    /// Only these people (name or record id; repeat for more), for `--format vcf`.
    #[arg(long = "person", value_name = "NAME|ID")]
    people: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup file (.json) to restore into an empty store, or the id of a deleted
    /// record to bring back.
    target: String,
}

pub fn import(dir: &Path, args: ImportArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    match FileKind::of(&bytes) {
        FileKind::Calendar => return import_calendar(dir, &args, &bytes),
        FileKind::Csv | FileKind::Vcards | FileKind::Unknown => {}
    }
    if !args.me.is_empty() {
        bail!(
            "--me is for calendars; {} holds contacts",
            args.file.display()
        );
    }
    let parsed = parse_contacts(&bytes);
    if parsed.contacts.is_empty() {
        let first = parsed
            .skipped
            .first()
            .map(|s| format!(" (line {}: {})", s.line, s.reason))
            .unwrap_or_default();
        bail!(
            "no contact in {} can be imported{first}: is it a vCard (.vcf) file or a LinkedIn or Google Contacts CSV export?",
            args.file.display()
        );
    }
    let mut store = crate::data::open_store(dir)?;
    let report = store.import_vcards(
        &bytes,
        ImportOptions {
            dry_run: args.dry_run,
        },
        |_| {},
    )?;
    print_report(&report);
    Ok(())
}

fn import_calendar(dir: &Path, args: &ImportArgs, bytes: &[u8]) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    let report = store.import_calendar(
        bytes,
        &CalendarImportOptions {
            dry_run: args.dry_run,
            owner: args.me.clone(),
        },
    )?;
    print_calendar_report(&report);
    Ok(())
}

fn print_calendar_report(report: &CalendarImportReport) {
    for meeting in &report.meetings {
        out(&format!(
            "line {:>5}  {:<9}  {}  {}  {}",
            meeting.line,
            outcome_word(meeting.outcome),
            meeting.start.format("%Y-%m-%d %H:%M UTC"),
            meeting.summary,
            format::short(&meeting.id)
        ));
    }
    for invited in &report.guests {
        let guest = &invited.guest;
        let name = guest.name.as_deref().unwrap_or("");
        match &guest.person {
            Some(person) => out(&format!(
                "guest  {} {name}  is {} ({})",
                guest.email,
                person.name,
                format::short(&person.id)
            )),
            None => out(&format!(
                "guest  {} {name}  new: not among your people",
                guest.email
            )),
        }
    }
    print_skipped(&report.skipped, &report.notes);
    out(&report.summary());
}

fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Added => "added",
        Outcome::Updated => "updated",
        Outcome::Unchanged => "unchanged",
    }
}

fn print_report(report: &ImportReport) {
    for card in &report.cards {
        let what = outcome_word(card.outcome);
        out(&format!(
            "line {:>5}  {what:<9}  {}  {}",
            card.line,
            card.name,
            format::short(&card.person_id)
        ));
    }
    print_skipped(&report.skipped, &report.notes);
    out(&report.summary());
}

fn print_skipped(skipped: &[aftercall_shared::interop::Skipped], notes: &[String]) {
    for s in skipped {
        let what = if s.whole_card {
            "skipped"
        } else {
            "line skipped"
        };
        out(&format!("line {:>5}  {what}: {}", s.line, s.reason));
    }
    for note in notes {
        out(&format!("note: {note}"));
    }
}

pub fn export(dir: &Path, args: ExportArgs) -> anyhow::Result<()> {
    let version: VcardVersion = args.vcard_version.parse()?;
    if !args.people.is_empty() && args.format != ExportFormat::Vcf {
        anyhow::bail!("--person selects people for --format vcf only");
    }
    let store = crate::data::open_store(dir)?;
    let text = match args.format {
        ExportFormat::Vcf if args.people.is_empty() => store.export_vcards(None, version)?,
        ExportFormat::Vcf => {
            let ids = args
                .people
                .iter()
                .map(|p| store.find_person_by_id_or_name(p))
                .collect::<Result<Vec<_>, _>>()?;
            store.export_vcards(Some(&ids), version)?
        }
        ExportFormat::Ics => store.export_calendar()?,
        ExportFormat::Csv => store.export_interactions_csv()?,
        ExportFormat::Json => store.backup()?.to_json(),
        ExportFormat::Md => {
            let into_dir = args.out.as_deref().is_some_and(Path::is_dir);
            let layout = if into_dir {
                MarkdownLayout::PerPerson
            } else {
                MarkdownLayout::OneFile
            };
            let files = store.export_diary_markdown(layout)?;
            // Attachments are written beside the Markdown, where its links point.
            if let Some(out) = args.out.as_deref() {
                let base = if into_dir {
                    out
                } else {
                    out.parent().unwrap_or(Path::new("."))
                };
                write_markdown_attachments(&store, base)?;
            }
            if let (true, Some(dir)) = (into_dir, args.out.as_deref()) {
                for file in &files {
                    let path = dir.join(&file.name);
                    crate::owner_only::write(&path, file.text.as_bytes())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                eprintln_status(&format!(
                    "Wrote {} diary files to {}.",
                    files.len(),
                    dir.display()
                ));
                return Ok(());
            }
            files
                .into_iter()
                .map(|f| f.text)
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    match &args.out {
        Some(path) => {
            write_new_file(path, text.as_bytes())?;
            eprintln_status(&format!("Wrote {}.", path.display()));
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                super::output_error(&e);
            }
        }
    }
    Ok(())
}

/// Writes the content of the attachments the Markdown export links under `base`
/// (into `base/attachments/`, owner-only like every export).
fn write_markdown_attachments(store: &aftercall_shared::Store, base: &Path) -> anyhow::Result<()> {
    let linked = store.markdown_attachments()?;
    if linked.is_empty() {
        return Ok(());
    }
    let folder = base.join("attachments");
    crate::owner_only::create_dir_all(&folder)
        .with_context(|| format!("cannot write {}", folder.display()))?;
    for (relative, row) in &linked {
        if let Some(content) = store.blob(&row.blob)? {
            write_new_file(&base.join(relative), &content)?;
        }
    }
    Ok(())
}

/// Writes through a temporary file, so a failed export leaves nothing half written.
fn write_new_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.part", name.to_string_lossy()));
    crate::owner_only::write(&tmp, bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Status for a person at a terminal, kept off standard output (which may be the export).
fn eprintln_status(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// `aftercall restore FILE.json` restores a backup; `aftercall restore ID` brings
/// back a deleted record.
pub fn restore(dir: &Path, args: RestoreArgs) -> anyhow::Result<()> {
    let path = Path::new(&args.target);
    let is_backup = path.is_file()
        || Path::new(&args.target)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if !is_backup {
        let mut store = crate::data::open_store(dir)?;
        let (id, kind) = store.resolve_doc(&args.target)?;
        store.restore(&id)?;
        out(&format!("Restored {kind} {}.", format::short(&id)));
        return Ok(());
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the backup {}", path.display()))?;
    let backup = Backup::from_json(&text)?;
    let mut store = crate::data::open_store(dir)?;
    let n = store.restore_backup(&backup)?;
    out(&format!(
        "Restored {n} record{} from {}.",
        if n == 1 { "" } else { "s" },
        path.display()
    ));
    Ok(())
}
