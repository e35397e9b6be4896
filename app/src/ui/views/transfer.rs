//! Import / export: phone contacts in (a .vcf file, or LinkedIn's or Google's CSV,
//! picked or named, or pasted vCard text), a batch at a time with progress and a report of anything skipped; vCard,
//! CSV, JSON backup, Markdown diary and calendar follow-ups out. The desktop window
//! asks where to save with the system's save dialog; the browser mode and the phone
//! write to the data directory's `exports` folder, and the browser mode also offers
//! the file as a download.

use std::time::Duration;

use aftercall_shared::api::{Export as Made, ImportState, Request};
use aftercall_shared::interop::{
    CalendarImportReport, ImportProgress, ImportReport, Skipped, VcardVersion,
};
use base64::Engine;
use dioxus::prelude::*;

use crate::platform::{FileError, Saved};
use crate::ui::components::{picked_file, PickError, TextArea, TextField};
use crate::ui::session::{use_query, use_session, Loaded, Session};

/// One export: its button label, file extension and how it is made.
pub struct Export {
    pub label: &'static str,
    pub slug: &'static str,
    pub ext: &'static str,
    /// The media type of a download.
    pub mime: &'static str,
    pub made: Made,
}

/// Every export the screen offers.
pub static EXPORTS: [Export; 5] = [
    Export {
        label: "People as vCard",
        slug: "vcard",
        ext: "vcf",
        mime: "text/vcard",
        made: Made::Vcards(VcardVersion::V4),
    },
    Export {
        label: "Conversations as CSV",
        slug: "csv",
        ext: "csv",
        mime: "text/csv",
        made: Made::ConversationsCsv,
    },
    Export {
        label: "JSON backup",
        slug: "json",
        ext: "json",
        mime: "application/json",
        made: Made::Backup,
    },
    Export {
        label: "Diary as Markdown",
        slug: "markdown",
        ext: "md",
        mime: "text/markdown",
        made: Made::DiaryMarkdown,
    },
    Export {
        label: "Follow-ups for the calendar",
        slug: "ics",
        ext: "ics",
        mime: "text/calendar",
        made: Made::Calendar,
    },
];

/// The name an export is saved under: `aftercall-<stamp>.<ext>`.
pub fn export_name(stamp: &str, ext: &str) -> String {
    format!("aftercall-{stamp}.{ext}")
}

/// An export offered as a download (browser mode).
#[derive(Debug, Clone, PartialEq)]
struct Download {
    name: String,
    href: String,
}

impl Download {
    /// `text` as a file called `name` of type `mime`, in a link the browser downloads.
    fn of(text: &str, mime: &str, name: String) -> Download {
        let data = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        Download {
            href: format!("data:{mime};charset=utf-8;base64,{data}"),
            name,
        }
    }
}

/// The largest contacts file the screen reads (an address book with photos is a few
/// megabytes); a larger one is refused before it is read.
pub const MAX_IMPORT_BYTES: u64 = 64 * 1024 * 1024;

/// The bytes of the file just picked (see [`picked_file`]), within `MAX_IMPORT_BYTES`.
async fn picked_bytes(evt: &FormEvent, input_id: &str) -> Result<Option<Vec<u8>>, String> {
    match picked_file(evt, input_id, MAX_IMPORT_BYTES).await {
        Ok(file) => Ok(file.map(|f| f.bytes)),
        Err(PickError::TooLarge(size)) => Err(too_large(size)),
        Err(PickError::Unreadable(e)) => Err(e),
    }
}

fn too_large(size: u64) -> String {
    format!(
        "this file is {} MB; a contacts file over {} MB is not read (export the contacts without photos, or in parts)",
        size / (1024 * 1024),
        MAX_IMPORT_BYTES / (1024 * 1024)
    )
}

/// Imports `file`, a batch at a time, showing how far it got between batches.
fn start_import(
    session: Session,
    file: Vec<u8>,
    mut progress: Signal<Option<ImportProgress>>,
    mut report: Signal<Option<ImportReport>>,
) {
    spawn(async move {
        report.set(None);
        let mut request = Request::ImportContacts {
            file,
            dry_run: false,
        };
        let finished = loop {
            let Some(state) = session.send::<ImportState>(request).await else {
                break None;
            };
            progress.set(Some(state.progress));
            if let Some(done) = state.report {
                break Some(done);
            }
            // Let the screen draw the progress before the next batch.
            session.platform.sleep(Duration::from_millis(1)).await;
            request = Request::ImportNext { id: state.id };
        };
        progress.set(None);
        if let Some(done) = finished {
            session.done("Contacts imported.");
            report.set(Some(done));
        }
    });
}

/// Makes an export and saves it where the user says (desktop) or in the exports
/// folder, offering it as a download there (browser mode).
fn save_export(session: &Session, export: &'static Export, mut download: Signal<Option<Download>>) {
    let session = session.clone();
    spawn(async move {
        let Some(text) = session
            .send::<String>(Request::Export {
                export: export.made,
            })
            .await
        else {
            return;
        };
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
        let name = export_name(&stamp, export.ext);
        match session.platform.save_export(&name, &text).await {
            Ok(Saved::Cancelled) => session.done("Export cancelled."),
            Ok(Saved::Download) => {
                session.done(format!("{} ready to download", export.label));
                download.set(Some(Download::of(&text, export.mime, name)));
            }
            Err(e) => session.error(e),
            Ok(Saved::Written(path)) => {
                session.done(format!("{} written to {}", export.label, path.display()));
                if !session.platform.native_dialogs {
                    download.set(Some(Download::of(&text, export.mime, name)));
                }
            }
        }
    });
}

/// The Import / export screen.
#[component]
pub fn Transfer() -> Element {
    let session = use_session();
    let native_dialog = session.platform.native_dialogs;
    let has_paths = session.platform.has_file_paths();
    let mut path = use_signal(String::new);
    let mut pasted = use_signal(String::new);
    let progress = use_signal(|| None::<ImportProgress>);
    let report = use_signal(|| None::<ImportReport>);
    let download = use_signal(|| None::<Download>);
    let busy = progress().is_some();
    let (file_session, path_session, paste_session, export_session) = (
        session.clone(),
        session.clone(),
        session.clone(),
        session.clone(),
    );
    rsx! {
        section { class: "screen transfer", "aria-labelledby": "transfer-title",
            h1 { id: "transfer-title", "Import / export" }
            h2 { "Phone contacts in" }
            p { class: "hint", "Export your contacts from the phone or address book as a .vcf file, or your LinkedIn connections or Google Contacts as CSV. People you already have are updated, not doubled." }
            div { class: "form",
                div { class: "field",
                    label { r#for: "import-pick", "Choose a .vcf or .csv file" }
                    input {
                        id: "import-pick", r#type: "file", disabled: busy,
                        accept: ".vcf,.vcard,text/vcard,text/x-vcard,.csv,text/csv",
                        onchange: move |evt| {
                            let session = file_session.clone();
                            spawn(async move {
                                match picked_bytes(&evt, "import-pick").await {
                                    Ok(Some(bytes)) => start_import(session, bytes, progress, report),
                                    Ok(None) => {}
                                    Err(e) => session.error(e),
                                }
                            });
                        },
                    }
                }
                if has_paths {
                    TextField { id: "import-path", label: "Or type the path to a .vcf or .csv file", placeholder: "/home/me/contacts.vcf",
                        on_input: move |v| path.set(v) }
                    button {
                        r#type: "button", id: "import-file", class: "secondary", disabled: busy,
                        onclick: move |_| match path_session.platform.read_file(path().trim(), MAX_IMPORT_BYTES) {
                            Ok(bytes) => start_import(path_session.clone(), bytes, progress, report),
                            Err(FileError::TooLarge(size)) => path_session.error(too_large(size)),
                            Err(FileError::Unreadable(e)) => path_session.error(e),
                        },
                        "Import the file"
                    }
                }
                TextArea { id: "import-text", label: "Or paste vCard text", rows: 4,
                    on_input: move |v| pasted.set(v) }
                button {
                    r#type: "button", id: "import-paste", class: "secondary", disabled: busy,
                    onclick: move |_| start_import(paste_session.clone(), pasted().into_bytes(), progress, report),
                    "Import pasted contacts"
                }
            }
            if let Some(p) = progress() {
                div { id: "import-progress", role: "status",
                    progress { max: "{p.total.max(1)}", value: "{p.done}" }
                    span { "Importing… {p.done} of {p.total} contacts" }
                }
            }
            if let Some(r) = report() {
                ImportReportView { id: "import-report", summary: r.summary(), skipped: r.skipped, notes: r.notes }
            }
            CalendarIn {}
            h2 { "Your network out" }
            p { class: "hint",
                if native_dialog { "You choose where each export is saved." }
                else if has_paths { "Each export is written to the exports folder of your data directory, with a link to download it." }
                else { "Each export downloads to this device." }
            }
            div { class: "row-actions",
                for export in EXPORTS.iter() {
                    button {
                        key: "{export.slug}",
                        r#type: "button",
                        id: "export-{export.slug}",
                        class: "secondary",
                        onclick: {
                            let session = export_session.clone();
                            move |_| save_export(&session, export, download)
                        },
                        "{export.label}"
                    }
                }
            }
            if let Some(d) = download() {
                p { class: "saved",
                    a { id: "export-download", href: "{d.href}", download: "{d.name}", "Download {d.name}" }
                }
            }
            h2 { "From a terminal" }
            p { class: "hint", "The same from the command line: " code { "aftercall import contacts.vcf" } ", " code { "aftercall export --help" } "." }
        }
    }
}

/// What an import did, with every skipped card or line by its line number.
/// The setting holding the user's own addresses, as typed for calendar imports.
const OWN_ADDRESSES: &str = "calendar.me";

/// The addresses typed in, one or more, split on commas, semicolons and spaces.
fn addresses(typed: &str) -> Vec<String> {
    typed
        .split([',', ';', ' '])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect()
}

/// Calendar in: an `.ics` export's meetings, so the app can ask how each went.
#[component]
fn CalendarIn() -> Element {
    let session = use_session();
    let saved_me = use_query::<Option<String>>(Request::Setting {
        key: OWN_ADDRESSES.into(),
    });
    let mut me = use_signal(|| None::<String>);
    let mut report = use_signal(|| None::<CalendarImportReport>);
    let mut busy = use_signal(|| false);
    let initial_me = match saved_me {
        Loaded::Ready(v) => v.unwrap_or_default(),
        other => return other.placeholder(),
    };
    rsx! {
        h2 { "Calendar in" }
        p { class: "hint", "Export your calendar as an .ics file. When a meeting with others ends, Today asks how it went." }
        div { class: "form",
            TextField { id: "calendar-me", label: "Your email address (to tell you from your guests)",
                initial: initial_me.clone(), placeholder: "me@example.com", kind: "email",
                on_input: move |v| me.set(Some(v)) }
            div { class: "field",
                label { r#for: "calendar-pick", "Choose an .ics file" }
                input {
                    id: "calendar-pick", r#type: "file", disabled: busy(),
                    accept: ".ics,.ical,text/calendar",
                    onchange: move |evt| {
                        let session = session.clone();
                        let typed = me().unwrap_or_else(|| initial_me.clone());
                        spawn(async move {
                            let file = match picked_bytes(&evt, "calendar-pick").await {
                                Ok(Some(bytes)) => bytes,
                                Ok(None) => return,
                                Err(e) => return session.error(e),
                            };
                            busy.set(true);
                            report.set(None);
                            let remember = Request::SetSetting {
                                key: OWN_ADDRESSES.into(),
                                value: Some(typed.trim().to_string()).filter(|t| !t.is_empty()),
                            };
                            session.send::<()>(remember).await;
                            let request = Request::ImportCalendar { file, owner: addresses(&typed) };
                            if let Some(done) = session.send::<CalendarImportReport>(request).await {
                                session.done("Calendar imported.");
                                report.set(Some(done));
                            }
                            busy.set(false);
                        });
                    },
                }
            }
        }
        if let Some(r) = report() {
            ImportReportView { id: "calendar-report", summary: r.summary(), skipped: r.skipped, notes: r.notes }
        }
    }
}

/// What an import did: its summary, the lines it skipped and why, its notes.
#[component]
fn ImportReportView(
    id: String,
    summary: String,
    skipped: Vec<Skipped>,
    notes: Vec<String>,
) -> Element {
    rsx! {
        div { id: "{id}", class: "saved report", role: "status",
            p { "{summary}" }
            if !skipped.is_empty() {
                ul { class: "skipped",
                    for s in skipped.iter() {
                        li { key: "{s.line}-{s.reason}", "Line {s.line}: {s.reason}" }
                    }
                }
            }
            for note in notes.iter() {
                p { class: "hint", "{note}" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_addresses_are_read_however_they_are_separated() {
        assert_eq!(
            addresses(" me@a.org, me@b.org;work@c.org  "),
            vec!["me@a.org", "me@b.org", "work@c.org"]
        );
        assert!(addresses(" , ").is_empty());
    }

    #[test]
    fn every_export_the_domain_makes_has_a_button() {
        let offered: Vec<Made> = EXPORTS.iter().map(|e| e.made).collect();
        assert_eq!(offered, Made::ALL.to_vec());
        assert!(too_large(MAX_IMPORT_BYTES + 1).contains("over 64 MB is not read"));
    }
}
