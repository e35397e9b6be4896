//! Sync & devices: honest status (offline, syncing, up to date, entries waiting,
//! last sync), the relay, the recovery phrase with a QR code to pair another
//! device, and entering a phrase to pair this one.

use aftercall_shared::crypto::qr_svg;
use dioxus::prelude::*;

use crate::format;
use crate::sync::{self, ConnState, SyncStatus};
use crate::ui::components::{TextArea, TextField};
use crate::ui::session::{use_session, use_sync_status};

/// The words for a connection state and the class of its dot.
pub fn state_words(state: &ConnState) -> (&'static str, &'static str) {
    match state {
        ConnState::NoAccount => ("Not set up: this device only", "offline"),
        ConnState::Offline => ("Offline", "offline"),
        ConnState::Connecting => ("Connecting…", "connecting"),
        ConnState::Syncing => ("Syncing…", "syncing"),
        ConnState::UpToDate => ("Up to date", "up-to-date"),
    }
}

/// "3 changes waiting to upload" or "Nothing waiting to upload".
pub fn pending_words(n: u64) -> String {
    match n {
        0 => "Nothing waiting to upload".into(),
        1 => "1 change waiting to upload".into(),
        n => format!("{n} changes waiting to upload"),
    }
}

/// The Sync & devices screen.
#[component]
pub fn SyncScreen() -> Element {
    let status = use_sync_status();
    let Some(status) = status else {
        return rsx! {
            section { class: "screen sync", "aria-labelledby": "sync-title",
                h1 { id: "sync-title", "Sync & devices" }
                p { class: "hint", "Sync is not running in this window." }
            }
        };
    };
    let has_account = status.state != ConnState::NoAccount;
    rsx! {
        section { class: "screen sync", "aria-labelledby": "sync-title",
            h1 { id: "sync-title", "Sync & devices" }
            StatusCard { status: status.clone() }
            if has_account {
                RelayForm { relay: status.relay.clone().unwrap_or_default() }
                RecoveryPhrase {}
            } else {
                SetUp {}
            }
        }
    }
}

#[component]
fn StatusCard(status: SyncStatus) -> Element {
    let (words, dot) = state_words(&status.state);
    let last = status
        .last_synced_at
        .map(|t| format!("Last synced {}", format::when(t)))
        .unwrap_or_else(|| "Never synced yet".into());
    rsx! {
        div { class: "status-card", id: "sync-status", "data-state": "{dot}",
            span { class: "status-dot {dot}", "aria-hidden": "true" }
            div {
                p { class: "who", id: "sync-state", "{words}" }
                p { class: "meta", id: "sync-pending", {pending_words(status.pending_upload)} }
                p { class: "meta", id: "sync-last", "{last}" }
                if let Some(relay) = &status.relay { p { class: "meta", "Relay: {relay}" } }
                if status.quarantined > 0 {
                    p { class: "error", "{status.quarantined} entries from other devices were set aside as unreadable." }
                }
                if let Some(e) = &status.last_error { p { class: "meta", "Last problem: {e}" } }
            }
        }
    }
}

/// Runs an async sync call on a thread of its own (with its own runtime), so the
/// window's executor never has to provide one.
async fn off_thread<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the sync call stopped")))
}

fn block_on<T>(fut: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(fut)
}

#[component]
fn SetUp() -> Element {
    let session = use_session();
    let mut relay = use_signal(String::new);
    let mut phrase = use_signal(String::new);
    let mut busy = use_signal(|| false);
    let create_session = session.clone();
    rsx! {
        h2 { "Set up sync" }
        p { class: "hint", "Sync keeps your phone and desktop in step through a relay that only ever sees encrypted data." }
        TextField {
            id: "relay",
            label: "Relay address",
            placeholder: "ws://127.0.0.1:8787",
            on_input: move |v| relay.set(v),
        }
        div { class: "row-actions",
            button {
                r#type: "button",
                id: "sync-create",
                class: "primary",
                onclick: move |_| {
                    let r = relay();
                    let r = r.trim();
                    match sync::create_account(&create_session.data_dir, (!r.is_empty()).then_some(r)) {
                        Ok(_) => {
                            create_session.sync_nudge();
                            create_session.done("Account created. Write down your recovery phrase below.");
                            create_session.changed();
                        }
                        Err(e) => create_session.error(format!("{e:#}")),
                    }
                },
                "Create an account"
            }
        }
        h2 { "Pair this device" }
        p { class: "hint", "Already use Aftercall elsewhere? Enter the relay above and that device's recovery phrase." }
        TextArea {
            id: "pair-phrase",
            label: "Recovery phrase",
            rows: 3,
            on_input: move |v| phrase.set(v),
        }
        button {
            r#type: "button",
            id: "sync-pair",
            class: "primary",
            disabled: busy(),
            onclick: move |_| {
                let dir = session.data_dir.clone();
                let (r, p) = (relay().trim().to_string(), phrase().trim().to_string());
                let session = session.clone();
                busy.set(true);
                spawn(async move {
                    let result = off_thread(move || block_on(sync::pair(&dir, &r, &p))).await;
                    busy.set(false);
                    match result {
                        Ok(()) => {
                            session.sync_nudge();
                            session.done("Paired: this device now syncs with your account.");
                            session.changed();
                        }
                        Err(e) => session.error(format!("{e:#}")),
                    }
                });
            },
            if busy() { "Pairing…" } else { "Pair" }
        }
    }
}

#[component]
fn RelayForm(relay: String) -> Element {
    let session = use_session();
    let mut typed = use_signal(|| relay.clone());
    rsx! {
        h2 { "Relay" }
        TextField {
            id: "relay",
            label: "Relay address",
            initial: relay.clone(),
            on_input: move |v| typed.set(v),
        }
        button {
            r#type: "button",
            id: "relay-save",
            class: "secondary",
            onclick: move |_| match sync::set_relay(&session.data_dir, typed().trim()) {
                Ok(()) => {
                    session.sync_nudge();
                    session.done("Relay saved.");
                }
                Err(e) => session.error(format!("{e:#}")),
            },
            "Save relay"
        }
    }
}

#[component]
fn RecoveryPhrase() -> Element {
    let session = use_session();
    let mut shown = use_signal(|| false);
    let phrase = if shown() {
        sync::recovery_phrase(&session.data_dir).ok().flatten()
    } else {
        None
    };
    rsx! {
        h2 { "Pair another device" }
        p { class: "hint", "On the other device, open Sync & devices, enter the same relay and this phrase (or scan the code). Anyone with the phrase can read your notes: keep it private." }
        if let Some(p) = phrase {
            p { class: "phrase", id: "recovery-phrase", "{p}" }
            div { class: "qr", "aria-label": "QR code of the recovery phrase", dangerous_inner_html: qr_svg(&p) }
            button { r#type: "button", class: "secondary", onclick: move |_| shown.set(false), "Hide" }
        } else {
            button { r#type: "button", id: "show-phrase", class: "secondary", onclick: move |_| shown.set(true), "Show recovery phrase and QR code" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reads_honestly() {
        assert_eq!(state_words(&ConnState::UpToDate).0, "Up to date");
        assert_eq!(state_words(&ConnState::Offline).1, "offline");
        assert_eq!(pending_words(0), "Nothing waiting to upload");
        assert_eq!(pending_words(1), "1 change waiting to upload");
        assert_eq!(pending_words(7), "7 changes waiting to upload");
    }
}
