//! Import / export: phone contacts in (a .vcf file picked or named, or pasted vCard
//! text), a batch at a time with progress and a report of anything skipped; vCard,
//! CSV, JSON backup, Markdown diary and calendar follow-ups out. The desktop window
//! asks where to save with the system's save dialog; the browser mode and the phone
//! write to the data directory's `exports` folder, and the browser mode also offers
//! the file as a download.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aftercall_shared::interop::{
    ImportOptions, ImportProgress, ImportReport, MarkdownLayout, VcardImport, VcardVersion,
};
use aftercall_shared::Store;
use base64::Engine;
use dioxus::prelude::*;

use crate::ui::app::AppConfig;
use crate::ui::components::{TextArea, TextField};
use crate::ui::session::{use_session, Session};

/// One export: its button label, file extension and how it is made.
pub struct Export {
    pub label: &'static str,
    pub slug: &'static str,
    pub ext: &'static str,
    /// The media type of a download.
    pub mime: &'static str,
    pub make: fn(&Store) -> anyhow::Result<String>,
}

/// Every export the screen offers.
pub const EXPORTS: [Export; 5] = [
    Export {
        label: "People as vCard",
        slug: "vcard",
        ext: "vcf",
        mime: "text/vcard",
        make: |s| Ok(s.export_vcards(None, VcardVersion::V4)?),
    },
    Export {
        label: "Conversations as CSV",
        slug: "csv",
        ext: "csv",
        mime: "text/csv",
        make: |s| Ok(s.export_interactions_csv()?),
    },
    Export {
        label: "JSON backup",
        slug: "json",
        ext: "json",
        mime: "application/json",
        make: |s| Ok(serde_json::to_string_pretty(&s.backup()?)?),
    },
    Export {
        label: "Diary as Markdown",
        slug: "markdown",
        ext: "md",
        mime: "text/markdown",
        make: |s| {
            Ok(s.export_diary_markdown(MarkdownLayout::OneFile)?
                .into_iter()
                .map(|f| f.text)
                .collect::<Vec<_>>()
                .join("\n"))
        },
    },
    Export {
        label: "Follow-ups for the calendar",
        slug: "ics",
        ext: "ics",
        mime: "text/calendar",
        make: |s| Ok(s.export_calendar()?),
    },
];

/// Where an export is written: `<data dir>/exports/aftercall-<stamp>.<ext>`.
pub fn export_path(data_dir: &Path, stamp: &str, ext: &str) -> PathBuf {
    data_dir
        .join("exports")
        .join(format!("aftercall-{stamp}.{ext}"))
}

/// An export offered as a download (browser mode).
#[derive(Debug, Clone, PartialEq)]
struct Download {
    name: String,
    href: String,
}

/// The largest contacts file the screen reads (an address book with photos is a few
/// megabytes); a larger one is refused before it is read.
pub const MAX_IMPORT_BYTES: u64 = 64 * 1024 * 1024;

/// Reads the picked file in the page itself: the browser mode's events carry only
/// the file's name. Resolves to the bytes as base64, "" when nothing is picked, or
/// "!" and the size of a file over `MAX_IMPORT_BYTES` (which is not read).
const READ_PICKED_FILE: &str = r#"
const file = document.getElementById('import-pick')?.files?.[0];
if (!file) return '';
if (file.size > MAX_IMPORT_BYTES) return '!' + file.size;
const bytes = new Uint8Array(await file.arrayBuffer());
let binary = '';
for (let i = 0; i < bytes.length; i += 0x8000) {
  binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
}
return btoa(binary);
"#;

/// The bytes of the file just picked: from the event where the platform gives them
/// (the desktop window, the phone), else read by the page (the browser mode).
async fn picked_file(evt: &FormEvent) -> Result<Option<Vec<u8>>, String> {
    if let Some(file) = evt.files().into_iter().next() {
        if file.size() > MAX_IMPORT_BYTES {
            return Err(too_large(file.size()));
        }
        if let Ok(bytes) = file.read_bytes().await {
            return Ok(Some(bytes.to_vec()));
        }
    }
    let script = READ_PICKED_FILE.replace("MAX_IMPORT_BYTES", &MAX_IMPORT_BYTES.to_string());
    let encoded: String = document::eval(&script)
        .join()
        .await
        .map_err(|e| format!("cannot read the chosen file: {e}"))?;
    if encoded.is_empty() {
        return Ok(None);
    }
    if let Some(size) = encoded.strip_prefix('!') {
        return Err(too_large(size.parse().unwrap_or(u64::MAX)));
    }
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map(Some)
        .map_err(|e| format!("cannot read the chosen file: {e}"))
}

fn too_large(size: u64) -> String {
    format!(
        "this file is {} MB; a contacts file over {} MB is not read (export the contacts without photos, or in parts)",
        size / (1024 * 1024),
        MAX_IMPORT_BYTES / (1024 * 1024)
    )
}

/// Reads a contacts file named by its path, refusing one over `MAX_IMPORT_BYTES`.
fn read_named_file(path: &str) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {path}: {e}"))?
        .len();
    if size > MAX_IMPORT_BYTES {
        return Err(too_large(size));
    }
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// Imports `bytes`, a batch at a time, showing how far it got between batches.
fn start_import(
    session: Session,
    bytes: Vec<u8>,
    mut progress: Signal<Option<ImportProgress>>,
    mut report: Signal<Option<ImportReport>>,
) {
    spawn(async move {
        let mut import = VcardImport::new(&bytes, ImportOptions::default());
        report.set(None);
        progress.set(Some(import.progress()));
        while !import.is_finished() {
            // Let the screen draw the progress before the next batch.
            tokio::time::sleep(Duration::from_millis(1)).await;
            if session.command(|s| import.step(s, &mut |_| {})).is_none() {
                break;
            }
            progress.set(Some(import.progress()));
        }
        progress.set(None);
        if import.is_finished() {
            session.done("Contacts imported.");
        }
        report.set(Some(import.into_report()));
    });
}

/// Writes an export where the user says (desktop) or to the exports folder.
fn save_export(
    session: &Session,
    export: &Export,
    native_dialog: bool,
    mut download: Signal<Option<Download>>,
) {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    let path = export_path(&session.data_dir, &stamp, export.ext);
    let text = match session.peek(export.make) {
        Ok(text) => text,
        Err(e) => return session.error(format!("{e:#}")),
    };
    let label = export.label;
    if native_dialog {
        let session = session.clone();
        spawn(async move {
            match ask_where(&path).await {
                Some(chosen) => {
                    write_export(&session, label, &chosen, &text);
                }
                None => session.done("Export cancelled."),
            }
        });
        return;
    }
    if write_export(session, label, &path, &text) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let data = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        download.set(Some(Download {
            href: format!("data:{};charset=utf-8;base64,{data}", export.mime),
            name,
        }));
    }
}

/// Writes one export file and says where; false (with the error shown) if it failed.
fn write_export(session: &Session, label: &str, path: &Path, text: &str) -> bool {
    let written = path
        .parent()
        .map_or(Ok(()), crate::owner_only::create_dir_all)
        .and_then(|()| crate::owner_only::write(path, text.as_bytes()));
    match written {
        Ok(()) => {
            session.done(format!("{label} written to {}", path.display()));
            true
        }
        Err(e) => {
            session.error(format!("cannot write {}: {e}", path.display()));
            false
        }
    }
}

/// The system's save dialog, starting at `suggested`; `None` when cancelled.
#[cfg(feature = "desktop")]
async fn ask_where(suggested: &Path) -> Option<PathBuf> {
    let mut dialog = rfd::AsyncFileDialog::new().set_title("Save the export");
    if let Some(dir) = suggested.parent() {
        let _ = crate::owner_only::create_dir_all(dir);
        dialog = dialog.set_directory(dir);
    }
    if let Some(name) = suggested.file_name() {
        dialog = dialog.set_file_name(name.to_string_lossy());
    }
    dialog.save_file().await.map(|f| f.path().to_path_buf())
}

/// Builds without a window have no save dialog: the suggested place is used.
#[cfg(not(feature = "desktop"))]
async fn ask_where(suggested: &Path) -> Option<PathBuf> {
    Some(suggested.to_path_buf())
}

/// The Import / export screen.
#[component]
pub fn Transfer() -> Element {
    let session = use_session();
    let native_dialog = use_context::<AppConfig>().native_dialogs;
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
            p { class: "hint", "Export your contacts from the phone or address book as a .vcf file. People you already have are updated, not doubled." }
            div { class: "form",
                div { class: "field",
                    label { r#for: "import-pick", "Choose a .vcf file" }
                    input {
                        id: "import-pick", r#type: "file", disabled: busy,
                        accept: ".vcf,.vcard,text/vcard,text/x-vcard",
                        onchange: move |evt| {
                            let session = file_session.clone();
                            spawn(async move {
                                match picked_file(&evt).await {
                                    Ok(Some(bytes)) => start_import(session, bytes, progress, report),
                                    Ok(None) => {}
                                    Err(e) => session.error(e),
                                }
                            });
                        },
                    }
                }
                TextField { id: "import-path", label: "Or type the path to a .vcf file", placeholder: "/home/me/contacts.vcf",
                    on_input: move |v| path.set(v) }
                button {
                    r#type: "button", id: "import-file", class: "secondary", disabled: busy,
                    onclick: move |_| match read_named_file(path().trim()) {
                        Ok(bytes) => start_import(path_session.clone(), bytes, progress, report),
                        Err(e) => path_session.error(e),
                    },
                    "Import the file"
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
                ImportReportView { report: r }
            }
            h2 { "Your network out" }
            p { class: "hint",
                if native_dialog { "You choose where each export is saved." }
                else { "Each export is written to the exports folder of your data directory, with a link to download it." }
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
                            move |_| save_export(&session, export, native_dialog, download)
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
#[component]
fn ImportReportView(report: ImportReport) -> Element {
    rsx! {
        div { id: "import-report", class: "saved report", role: "status",
            p { "{report.summary()}" }
            if !report.skipped.is_empty() {
                ul { class: "skipped",
                    for s in report.skipped.iter() {
                        li { key: "{s.line}-{s.reason}", "Line {s.line}: {s.reason}" }
                    }
                }
            }
            for note in report.notes.iter() {
                p { class: "hint", "{note}" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_file_over_the_limit_is_refused_unread_and_a_missing_one_said_so() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.vcf");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(MAX_IMPORT_BYTES + 1).unwrap();
        let err = read_named_file(big.to_str().unwrap()).unwrap_err();
        assert!(err.contains("over 64 MB is not read"), "{err}");
        let small = dir.path().join("small.vcf");
        std::fs::write(&small, "BEGIN:VCARD\r\nEND:VCARD\r\n").unwrap();
        assert_eq!(read_named_file(small.to_str().unwrap()).unwrap().len(), 24);
        let missing = read_named_file("/no/such/contacts.vcf").unwrap_err();
        assert!(
            missing.starts_with("cannot read /no/such/contacts.vcf"),
            "{missing}"
        );
    }
}
