//! The message line: confirmations and errors, over the screen so nothing moves.

use aftercall_shared::api::Request;
use dioxus::prelude::*;

use crate::ui::session::use_session;

/// The current notice, if any, with a way to close it (and to undo a delete).
#[component]
pub fn NoticeLine() -> Element {
    let session = use_session();
    let mut notice = session.notice;
    let Some(n) = notice() else {
        return rsx! { div { class: "notice-slot", role: "status", "aria-live": "polite" } };
    };
    let undo = n.undo.clone();
    rsx! {
        div { class: "notice-slot", role: "status", "aria-live": "polite",
            div {
                id: "notice",
                class: if n.error { "notice error" } else { "notice" },
                span { class: "notice-text", "{n.text}" }
                if let Some(id) = undo {
                    button {
                        r#type: "button",
                        id: "notice-undo",
                        onclick: {
                            let session = session.clone();
                            move |_| session.act(Request::Restore { id: id.clone() }, "Brought back.")
                        },
                        "Undo"
                    }
                }
                button {
                    r#type: "button",
                    class: "notice-close",
                    "aria-label": "Close message",
                    onclick: move |_| notice.set(None),
                    "✕"
                }
            }
        }
    }
}
