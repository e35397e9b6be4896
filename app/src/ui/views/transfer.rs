//! Import / export: phone contacts in; vCard, CSV, JSON backup, Markdown diary and
//! calendar follow-ups out.

use dioxus::prelude::*;

/// The commands that do each job from a terminal.
pub const COMMANDS: [(&str, &str); 6] = [
    (
        "Import phone contacts (vCard)",
        "aftercall import contacts.vcf",
    ),
    (
        "Export people as vCard",
        "aftercall export vcard > people.vcf",
    ),
    (
        "Export everything as CSV",
        "aftercall export csv > aftercall.csv",
    ),
    ("JSON backup", "aftercall export json > backup.json"),
    ("Markdown diary", "aftercall export markdown > diary.md"),
    (
        "Follow-ups for your calendar",
        "aftercall export ics > follow-ups.ics",
    ),
];

/// The Import / export screen.
#[component]
pub fn Transfer() -> Element {
    rsx! {
        section { class: "screen transfer", "aria-labelledby": "transfer-title",
            h1 { id: "transfer-title", "Import / export" }
            p { class: "hint",
                "Bring your phone contacts in as a vCard file, and take your network out as vCard, "
                "CSV, a JSON backup, a Markdown diary or calendar follow-ups. In this build these "
                "run from the command line; the buttons arrive here next."
            }
            ul { class: "cards", id: "transfer-commands",
                for (what, cmd) in COMMANDS {
                    li { key: "{cmd}", class: "card",
                        div { class: "card-main",
                            span { class: "who", "{what}" }
                            code { class: "command", "{cmd}" }
                        }
                    }
                }
            }
        }
    }
}
