//! Sync & devices: honest status (offline, syncing, up to date, entries waiting,
//! last sync), the relay, the recovery phrase with a QR code to pair another
//! device, and entering a phrase to pair this one.

use aftercall_shared::crypto::qr_svg;
use dioxus::prelude::*;

use crate::backend::{AccountReply, AccountRequest};
use crate::format;
use crate::sync::{ConnState, SyncStatus};
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
    // The set-up form stays while a pairing runs, even once the account is there, so
    // that its outcome is said where it was asked.
    let pairing = use_signal(|| false);
    rsx! {
        section { class: "screen sync", "aria-labelledby": "sync-title",
            h1 { id: "sync-title", "Sync & devices" }
            StatusCard { status: status.clone() }
            if has_account && !pairing() {
                RelayForm { relay: status.relay.clone().unwrap_or_default() }
                RecoveryPhrase {}
            } else {
                SetUp { busy: pairing }
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

#[component]
fn SetUp(mut busy: Signal<bool>) -> Element {
    let session = use_session();
    let suggested = session.platform.suggested_relay().unwrap_or_default();
    let mut relay = use_signal(|| suggested.clone());
    let mut phrase = use_signal(String::new);
    let create_session = session.clone();
    rsx! {
        h2 { "Set up sync" }
        p { class: "hint", "Sync keeps your phone and desktop in step through a relay that only ever sees encrypted data." }
        TextField {
            id: "relay",
            label: "Relay address",
            placeholder: "ws://127.0.0.1:8787",
            initial: suggested,
            on_input: move |v| relay.set(v),
        }
        div { class: "row-actions",
            button {
                r#type: "button",
                id: "sync-create",
                class: "primary",
                onclick: move |_| {
                    let r = relay().trim().to_string();
                    let session = create_session.clone();
                    async move {
                        let ask = AccountRequest::Create { relay: (!r.is_empty()).then_some(r) };
                        match session.backend.account(ask).await {
                            Ok(_) => session.done("Account created. Write down your recovery phrase below."),
                            Err(e) => session.error(e),
                        }
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
                let (relay, phrase) = (relay().trim().to_string(), phrase().trim().to_string());
                let session = session.clone();
                busy.set(true);
                spawn(async move {
                    let result = session.backend.account(AccountRequest::Pair { relay, phrase }).await;
                    match result {
                        Ok(_) => session.done("Paired: this device now syncs with your account."),
                        Err(e) => session.error(e),
                    }
                    busy.set(false);
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
            onclick: move |_| {
                let (session, relay) = (session.clone(), typed().trim().to_string());
                async move {
                    match session.backend.account(AccountRequest::SetRelay { relay }).await {
                        Ok(_) => session.done("Relay saved."),
                        Err(e) => session.error(e),
                    }
                }
            },
            "Save relay"
        }
    }
}

#[component]
fn RecoveryPhrase() -> Element {
    let session = use_session();
    let mut shown = use_signal(|| false);
    let mut phrase = use_signal(|| None::<String>);
    let show = move |_| {
        let session = session.clone();
        async move {
            match session
                .backend
                .account(AccountRequest::RecoveryPhrase)
                .await
            {
                Ok(AccountReply::RecoveryPhrase(Some(p))) => {
                    phrase.set(Some(p));
                    shown.set(true);
                }
                Ok(_) => session.error("this device has no account yet"),
                Err(e) => session.error(e),
            }
        }
    };
    let phrase = if shown() { phrase() } else { None };
    rsx! {
        h2 { "Pair another device" }
        p { class: "hint", "On the other device, open Sync & devices, enter the same relay and this phrase (or scan the code). Anyone with the phrase can read your notes: keep it private." }
        if let Some(p) = phrase {
            p { class: "phrase", id: "recovery-phrase", "{p}" }
            div { class: "qr", "aria-label": "QR code of the recovery phrase", dangerous_inner_html: qr_svg(&p) }
            button { r#type: "button", class: "secondary", onclick: move |_| shown.set(false), "Hide" }
        } else {
            button { r#type: "button", id: "show-phrase", class: "secondary", onclick: show, "Show recovery phrase and QR code" }
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
