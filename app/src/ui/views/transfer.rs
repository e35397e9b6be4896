//! Import / export: phone contacts in (a .vcf file or pasted vCard text); vCard,
//! CSV, JSON backup, Markdown diary and calendar follow-ups out, written as files
//! in the data directory's `exports` folder.

use std::path::{Path, PathBuf};

use aftercall_shared::interop::{ImportOptions, MarkdownLayout, VcardVersion};
use aftercall_shared::Store;
use dioxus::prelude::*;

use crate::ui::components::{TextArea, TextField};
use crate::ui::session::use_session;

/// One export: its button label, file extension and how it is made.
pub struct Export {
    pub label: &'static str,
    pub slug: &'static str,
    pub ext: &'static str,
    pub make: fn(&Store) -> anyhow::Result<String>,
}

/// Every export the screen offers.
pub const EXPORTS: [Export; 5] = [
    Export {
        label: "People as vCard",
        slug: "vcard",
        ext: "vcf",
        make: |s| Ok(s.export_vcards(None, VcardVersion::V4)?),
    },
    Export {
        label: "Conversations as CSV",
        slug: "csv",
        ext: "csv",
        make: |s| Ok(s.export_interactions_csv()?),
    },
    Export {
        label: "JSON backup",
        slug: "json",
        ext: "json",
        make: |s| Ok(serde_json::to_string_pretty(&s.backup()?)?),
    },
    Export {
        label: "Diary as Markdown",
        slug: "markdown",
        ext: "md",
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
        make: |s| Ok(s.export_calendar()?),
    },
];

/// Where an export is written: `<data dir>/exports/aftercall-<stamp>.<ext>`.
pub fn export_path(data_dir: &Path, stamp: &str, ext: &str) -> PathBuf {
    data_dir
        .join("exports")
        .join(format!("aftercall-{stamp}.{ext}"))
}

/// The Import / export screen.
#[component]
pub fn Transfer() -> Element {
    let session = use_session();
    let mut path = use_signal(String::new);
    let mut pasted = use_signal(String::new);
    let mut report = use_signal(|| None::<String>);
    let mut import = {
        let session = session.clone();
        move |bytes: Vec<u8>| {
            if let Some(r) = session
                .command(|s| s.import_vcards(&bytes, ImportOptions { dry_run: false }, |_| {}))
            {
                report.set(Some(r.summary()));
                session.done("Contacts imported.");
            }
        }
    };
    let mut import_file = import.clone();
    let file_session = session.clone();
    let export_session = session.clone();
    rsx! {
        section { class: "screen transfer", "aria-labelledby": "transfer-title",
            h1 { id: "transfer-title", "Import / export" }
            h2 { "Phone contacts in" }
            p { class: "hint", "Export your contacts from the phone or address book as a .vcf file. People you already have are updated, not doubled." }
            TextField { id: "import-path", label: "Path to a .vcf file", placeholder: "/home/me/contacts.vcf",
                on_input: move |v| path.set(v) }
            button {
                r#type: "button", id: "import-file", class: "secondary",
                onclick: move |_| match std::fs::read(path().trim()) {
                    Ok(bytes) => import_file(bytes),
                    Err(e) => file_session.error(format!("cannot read {}: {e}", path().trim())),
                },
                "Import the file"
            }
            TextArea { id: "import-text", label: "Or paste vCard text", rows: 4,
                on_input: move |v| pasted.set(v) }
            button {
                r#type: "button", id: "import-paste", class: "secondary",
                onclick: move |_| import(pasted().into_bytes()),
                "Import pasted contacts"
            }
            if let Some(r) = report() { p { class: "saved", id: "import-report", "{r}" } }
            h2 { "Your network out" }
            p { class: "hint", "Each export is written as a file in the exports folder of your data directory." }
            div { class: "row-actions",
                for export in EXPORTS.iter() {
                    button {
                        key: "{export.slug}",
                        r#type: "button",
                        id: "export-{export.slug}",
                        class: "secondary",
                        onclick: {
                            let session = export_session.clone();
                            let (make, ext, label) = (export.make, export.ext, export.label);
                            move |_| {
                                let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
                                let path = export_path(&session.data_dir, &stamp, ext);
                                let written = session.peek(make).and_then(|text| {
                                    if let Some(dir) = path.parent() {
                                        std::fs::create_dir_all(dir)?;
                                    }
                                    std::fs::write(&path, text)?;
                                    Ok(())
                                });
                                match written {
                                    Ok(()) => session.done(format!("{label} written to {}", path.display())),
                                    Err(e) => session.error(format!("{e:#}")),
                                }
                            }
                        },
                        "{export.label}"
                    }
                }
            }
            h2 { "From a terminal" }
            p { class: "hint", "The same from the command line: " code { "aftercall import contacts.vcf" } ", " code { "aftercall export --help" } "." }
        }
    }
}
