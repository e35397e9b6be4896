//! Sync & devices: honest status (offline, syncing, up to date, entries waiting,
//! last sync, removed), the relay, the account's devices (renamed, removed), the recovery phrase with a QR code to pair another
//! device, and entering a phrase (or, where the browser gives a camera, scanning
//! that QR code) to pair this one.

use aftercall_shared::crypto::{qr_svg, AccountSecret};
use dioxus::prelude::*;

use crate::backend::{AccountReply, AccountRequest};
use crate::format;
use crate::sync::{ConnState, DeviceRow, SyncStatus};
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
        ConnState::Removed => ("Removed from the account: no longer syncing", "offline"),
        ConnState::Rekeyed => (
            "The account was re-keyed: pair with the new recovery phrase",
            "offline",
        ),
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
                Devices {}
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
                if let Some(words) = status.checkpoint_words(format::when) {
                    p { class: "meta", id: "sync-checkpoint", "{words}" }
                }
                if let Some(words) = status.checkpoint_refused_words(format::when) {
                    p { class: "error", id: "sync-checkpoint-refused", "{words}" }
                }
                if let Some(relay) = &status.relay { p { class: "meta", "Relay: {relay}" } }
                if status.quarantined > 0 {
                    p { class: "error", "{status.quarantined} entries from other devices were set aside as unreadable." }
                }
                if let Some(t) = &status.attachments { p { class: "meta", id: "sync-attachments", {t.words()} } }
                if let Some(e) = &status.attachment_problem { p { class: "error", id: "sync-attachment-problem", "{e}" } }
                if let Some(e) = &status.last_error { p { class: "meta", "Last problem: {e}" } }
            }
        }
    }
}

/// The recovery phrase in a scanned code's text, or why it is not one (a QR code
/// of something else: a web address, a ticket).
pub fn scanned_phrase(text: &str) -> Result<String, &'static str> {
    match AccountSecret::from_phrase(text) {
        Ok(_) => Ok(text.split_whitespace().collect::<Vec<_>>().join(" ")),
        Err(_) => Err("That code is not an Aftercall recovery phrase: scan the one under Sync & devices on your other device."),
    }
}

/// The `<video>` that shows what the camera sees while it looks for the code.
const SCAN_VIDEO: &str = "scan-video";

#[component]
fn SetUp(mut busy: Signal<bool>) -> Element {
    let session = use_session();
    let suggested = session.platform.suggested_relay().unwrap_or_default();
    let can_scan = session.platform.can_scan();
    let mut relay = use_signal(|| suggested.clone());
    let mut phrase = use_signal(String::new);
    // A phrase the camera read replaces what was typed: the field remounts with it.
    let mut scanned = use_signal(|| (0u32, String::new()));
    let mut scanning = use_signal(|| false);
    let create_session = session.clone();
    let pair = use_callback({
        let session = session.clone();
        move |(relay, phrase): (String, String)| {
            let session = session.clone();
            busy.set(true);
            spawn(async move {
                let result = session
                    .backend
                    .account(AccountRequest::Pair { relay, phrase })
                    .await;
                match result {
                    Ok(_) => session.done("Paired: this device now syncs with your account."),
                    Err(e) => session.error(e),
                }
                busy.set(false);
            });
        }
    });
    let scan = {
        let session = session.clone();
        move |_| {
            let session = session.clone();
            scanning.set(true);
            spawn(async move {
                let read = session.platform.scan_code(SCAN_VIDEO).await;
                scanning.set(false);
                match read.map(|text| text.map(|t| scanned_phrase(&t))) {
                    // Cancelled.
                    Ok(None) => {}
                    Ok(Some(Ok(text))) => {
                        scanned.with_mut(|(n, shown)| {
                            *n += 1;
                            shown.clone_from(&text);
                        });
                        phrase.set(text.clone());
                        pair.call((relay().trim().to_string(), text));
                    }
                    Ok(Some(Err(why))) => session.error(why),
                    Err(e) => session.error(format!(
                        "The camera cannot be used here ({e}); type the phrase instead."
                    )),
                }
            });
        }
    };
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
        if can_scan {
            p { class: "hint", "Already use Aftercall elsewhere? Enter the relay above, then scan the QR code under Sync & devices on that device, or type its recovery phrase." }
            if scanning() {
                div { class: "scanner",
                    video {
                        id: SCAN_VIDEO,
                        "aria-label": "What the camera sees",
                        autoplay: true,
                        muted: true,
                        "playsinline": "true",
                    }
                    p { class: "hint", "Point the camera at the QR code on your other device." }
                    button {
                        r#type: "button",
                        id: "scan-cancel",
                        class: "secondary",
                        onclick: move |_| scanning.set(false),
                        "Cancel"
                    }
                }
            } else {
                div { class: "row-actions",
                    button {
                        r#type: "button",
                        id: "scan-code",
                        class: "secondary",
                        disabled: busy(),
                        onclick: scan,
                        "Scan the code"
                    }
                }
            }
        } else {
            p { class: "hint", "Already use Aftercall elsewhere? Enter the relay above and that device's recovery phrase." }
        }
        // Remounted, with the phrase filled in, when the camera reads one.
        {rsx! {
            TextArea {
                key: "{scanned().0}",
                id: "pair-phrase",
                label: "Recovery phrase",
                rows: 3,
                initial: scanned().1,
                on_input: move |v| phrase.set(v),
            }
        }}
        button {
            r#type: "button",
            id: "sync-pair",
            class: "primary",
            disabled: busy(),
            onclick: move |_| pair.call((relay().trim().to_string(), phrase().trim().to_string())),
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

/// "Last synced 2026-12-04 21:30" or "Never synced".
fn seen_words(row: &DeviceRow) -> String {
    match row.last_seen {
        Some(at) => format!("Last synced {}", format::when(at as i64 * 1000)),
        None => "Never synced".into(),
    }
}

/// "2 entries waiting for it" or "Nothing waiting for it".
pub fn waiting_words(n: u64) -> String {
    match n {
        0 => "Nothing waiting for it".into(),
        1 => "1 entry waiting for it".into(),
        n => format!("{n} entries waiting for it"),
    }
}

/// The account's devices, asked from the relay when shown: each with its name,
/// when it last synced and what waits for it; rename one, remove another.
#[component]
fn Devices() -> Element {
    let session = use_session();
    let mut rows = use_signal(|| None::<Vec<DeviceRow>>);
    let mut loading = use_signal(|| false);
    // The new recovery phrase after a re-key, and the devices to pair again.
    let mut rekeyed = use_signal(|| None::<(String, Vec<String>)>);
    let on_rekeyed = use_callback(move |done: (String, Vec<String>)| rekeyed.set(Some(done)));
    let load = use_callback({
        let session = session.clone();
        move |()| {
            let session = session.clone();
            loading.set(true);
            spawn(async move {
                match session.backend.account(AccountRequest::Devices).await {
                    Ok(AccountReply::Devices(list)) => rows.set(Some(list)),
                    Ok(_) => session.error("the relay answered something else than the devices"),
                    Err(e) => session.error(e),
                }
                loading.set(false);
            });
        }
    });
    rsx! {
        h2 { "Devices" }
        if let Some((phrase, left_out)) = rekeyed() {
            div { class: "rekeyed", id: "rekeyed",
                p { "The account is on a new key. The removed device can read nothing written from now on, and the old recovery phrase no longer works. Your other devices move over by themselves when they next sync." }
                for name in left_out {
                    p { class: "error", "{name} is an older version: pair it again with the new phrase." }
                }
                p { "Write down the new recovery phrase now:" }
                p { class: "phrase", id: "new-phrase", "{phrase}" }
                button { r#type: "button", class: "secondary", onclick: move |_| rekeyed.set(None), "I wrote it down" }
            }
        }
        if let Some(list) = rows() {
            ul { class: "devices", id: "devices",
                for row in list {
                    DeviceItem { key: "{row.id}", row: row.clone(), reload: load, on_rekeyed }
                }
            }
        }
        button {
            r#type: "button",
            id: "devices-show",
            class: "secondary",
            disabled: loading(),
            onclick: move |_| load(()),
            if loading() { "Asking the relay…" } else if rows().is_some() { "Refresh devices" } else { "Show devices" }
        }
    }
}

#[component]
fn DeviceItem(
    row: DeviceRow,
    reload: Callback<()>,
    on_rekeyed: Callback<(String, Vec<String>)>,
) -> Element {
    let session = use_session();
    let mut renaming = use_signal(|| false);
    let mut confirming = use_signal(|| false);
    let mut typed = use_signal(|| row.label().to_string());
    let label = row.label().to_string();
    let id = row.id.clone();
    let rename = {
        let (session, id) = (session.clone(), id.clone());
        move |_| {
            let (session, id, name) = (session.clone(), id.clone(), typed());
            async move {
                match session
                    .backend
                    .account(AccountRequest::RenameDevice { id, name })
                    .await
                {
                    Ok(_) => {
                        renaming.set(false);
                        session.done("Device renamed.");
                        reload(());
                    }
                    Err(e) => session.error(e),
                }
            }
        }
    };
    let remove = {
        let (session, id) = (session.clone(), id.clone());
        move |_| {
            let (session, id) = (session.clone(), id.clone());
            async move {
                match session
                    .backend
                    .account(AccountRequest::RemoveDevice { id })
                    .await
                {
                    Ok(_) => {
                        confirming.set(false);
                        session.done("Device removed: the relay no longer lets it in.");
                        reload(());
                    }
                    Err(e) => session.error(e),
                }
            }
        }
    };
    let mut rekeying = use_signal(|| false);
    let rekey = {
        let (session, id) = (session.clone(), id.clone());
        move |_| {
            let (session, id) = (session.clone(), id.clone());
            async move {
                rekeying.set(true);
                match session
                    .backend
                    .account(AccountRequest::RemoveAndRekey { id })
                    .await
                {
                    Ok(AccountReply::Rekeyed { phrase, left_out }) => {
                        confirming.set(false);
                        on_rekeyed((phrase, left_out));
                        reload(());
                    }
                    Ok(_) => session.error("the re-key did not finish; try again to resume it"),
                    Err(e) => session.error(e),
                }
                rekeying.set(false);
            }
        }
    };
    rsx! {
        li { class: "device", "data-device": "{id}",
            p { class: "who",
                "{label}"
                if row.this_device { span { class: "meta", " (this device)" } }
            }
            p { class: "meta", {seen_words(&row)} " · " {waiting_words(row.waiting)} }
            if renaming() {
                TextField {
                    id: "device-name-{id}",
                    label: "New name",
                    initial: label.clone(),
                    on_input: move |v| typed.set(v),
                }
                div { class: "row-actions",
                    button { r#type: "button", class: "primary", onclick: rename, "Save name" }
                    button { r#type: "button", class: "secondary", onclick: move |_| renaming.set(false), "Cancel" }
                }
            } else if confirming() {
                p { class: "error", "Remove {label}? The relay will refuse it from now on. It keeps what it had already synced." }
                p { class: "hint", "Lost or stolen? Remove and re-key also moves the account to a new key: {label} can read nothing written afterwards, the old recovery phrase stops working, and you get a new one." }
                div { class: "row-actions",
                    button { r#type: "button", class: "primary", disabled: rekeying(), onclick: remove, "Remove {label}" }
                    button { r#type: "button", class: "primary danger", id: "rekey-{id}", disabled: rekeying(), onclick: rekey,
                        if rekeying() { "Re-keying…" } else { "Remove and re-key" }
                    }
                    button { r#type: "button", class: "secondary", onclick: move |_| confirming.set(false), "Keep it" }
                }
            } else {
                div { class: "row-actions",
                    button { r#type: "button", class: "secondary", onclick: move |_| renaming.set(true), "Rename" }
                    if !row.this_device {
                        button { r#type: "button", class: "secondary", onclick: move |_| confirming.set(true), "Remove…" }
                    }
                }
            }
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
        assert_eq!(waiting_words(0), "Nothing waiting for it");
        assert_eq!(waiting_words(1), "1 entry waiting for it");
        assert_eq!(waiting_words(12), "12 entries waiting for it");
        assert_eq!(state_words(&ConnState::Removed).1, "offline");
    }

    #[test]
    fn a_scanned_code_pairs_only_when_it_is_a_recovery_phrase() {
        let phrase = AccountSecret::from_bytes([7; 32]).phrase();
        assert_eq!(scanned_phrase(&phrase), Ok(phrase.clone()));
        // As a camera may read it: spacing and line breaks of another device's layout.
        let spaced = format!("  {}\n", phrase.replacen(' ', "\n  ", 3));
        assert_eq!(scanned_phrase(&spaced), Ok(phrase.clone()));
        for other in [
            "https://example.com/ticket/42",
            "",
            &phrase[..phrase.len() - 4],
        ] {
            let why = scanned_phrase(other).unwrap_err();
            assert!(
                why.starts_with("That code is not an Aftercall recovery phrase"),
                "{other}"
            );
        }
    }
}
