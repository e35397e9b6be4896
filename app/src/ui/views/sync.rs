//! Sync & devices: honest status, the relay, pairing and the recovery phrase.

use dioxus::prelude::*;

/// The Sync & devices screen.
#[component]
pub fn SyncScreen() -> Element {
    rsx! {
        section { class: "screen sync", "aria-labelledby": "sync-title",
            h1 { id: "sync-title", "Sync & devices" }
            div { class: "status-card", id: "sync-status",
                span { class: "status-dot offline", "aria-hidden": "true" }
                div {
                    p { class: "who", "This device only" }
                    p { class: "meta", "Everything you capture is saved here and works offline." }
                }
            }
            p { class: "hint",
                "Syncing between your phone and desktop through a relay is on its way in this build: "
                "once it is here, this screen shows whether you are offline, syncing or up to date, "
                "how many changes wait to go up, the relay address, and lets you pair a device with "
                "a QR code or your recovery phrase."
            }
        }
    }
}
