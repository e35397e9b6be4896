//! The page's side: the screens, and a [`Backend`] whose jobs go to the store's
//! worker as messages `{kind: "ask", id, request}` (back as `{kind: "reply", id,
//! reply, wrote}`) and `{kind: "account", id, ask}` (back as `{kind: "account", id,
//! reply}`). The worker first says `{kind: "opened"}` or `{kind: "failed",
//! message}`, and sync's news comes as `{kind: "sync", news}`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use aftercall_app::backend::{AccountReply, Job, NotOpened};
use aftercall_app::platform::Platform;
use aftercall_app::sync::{SyncNews, SyncStatus};
use aftercall_app::ui::{App, AppConfig};
use aftercall_shared::api;
use dioxus::prelude::VirtualDom;
use js_sys::{Object, Reflect, Uint8Array};
use tokio::sync::{mpsc, oneshot, watch};
use wasm_bindgen::prelude::*;

use crate::Backend;

/// Replies not in yet, by request number.
type Pending<T> = Rc<RefCell<HashMap<u32, T>>>;

/// An account request's answer as it crosses from the worker.
type AccountAnswer = Result<AccountReply, String>;

/// Renders the app into the page's `#main`, its store in `worker`.
#[wasm_bindgen]
pub fn start_page(worker: web_sys::Worker) {
    let (jobs, mut jobs_rx) = mpsc::unbounded_channel::<Job>();
    let (revision_tx, revision) = watch::channel(0u64);
    let (opened_tx, opened) = watch::channel(None);
    let (status_tx, sync_status) = watch::channel(SyncStatus::no_account());
    // Each request's reply channel, and when it was posted (for the timings).
    let pending: Pending<(oneshot::Sender<Vec<u8>>, f64)> = Rc::default();
    let accounts: Pending<oneshot::Sender<AccountAnswer>> = Rc::default();

    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new({
        let (pending, accounts) = (pending.clone(), accounts.clone());
        move |event: web_sys::MessageEvent| {
            let data = event.data();
            let field = |name: &str| Reflect::get(&data, &JsValue::from_str(name)).ok();
            let bytes = |name: &str| {
                field(name)
                    .and_then(|r| r.dyn_into::<Uint8Array>().ok())
                    .map(|r| r.to_vec())
            };
            let id = field("id").and_then(|v| v.as_f64()).unwrap_or(-1.0) as u32;
            match field("kind").and_then(|k| k.as_string()).as_deref() {
                Some("opened") => {
                    opened_tx.send_replace(Some(Ok(())));
                }
                Some("failed") => {
                    let message = field("message")
                        .and_then(|m| m.as_string())
                        .unwrap_or_else(|| "the store's worker failed".into());
                    let why = if field("inUse").and_then(|b| b.as_bool()) == Some(true) {
                        NotOpened::InUse(message)
                    } else {
                        NotOpened::Failed(message)
                    };
                    opened_tx.send_replace(Some(Err(why)));
                }
                Some("reply") => {
                    let reply = bytes("reply");
                    if field("wrote").and_then(|w| w.as_bool()) == Some(true) {
                        revision_tx.send_modify(|n| *n += 1);
                    }
                    if let (Some((waiting, asked)), Some(reply)) =
                        (pending.borrow_mut().remove(&id), reply)
                    {
                        let _ = waiting.send(reply);
                        if let Some(name) = field("name").and_then(|n| n.as_string()) {
                            measure(&format!("aftercall {name}"), asked);
                        }
                    }
                }
                Some("account") => {
                    let answer = bytes("reply")
                        .ok_or_else(|| "no answer from the store's worker".to_string())
                        .and_then(|b| api::decode::<AccountAnswer>(&b).map_err(|e| e.to_string()))
                        .unwrap_or_else(Err);
                    if let Some(waiting) = accounts.borrow_mut().remove(&id) {
                        let _ = waiting.send(answer);
                    }
                }
                Some("sync") => match bytes("news").map(|b| api::decode::<SyncNews>(&b)) {
                    Some(Ok(SyncNews::Status(status))) => {
                        status_tx.send_replace(status);
                    }
                    Some(Ok(SyncNews::Changed)) => revision_tx.send_modify(|n| *n += 1),
                    _ => tracing::warn!("unreadable sync news from the store's worker"),
                },
                _ => tracing::warn!("a message from the store's worker that means nothing here"),
            }
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The page lives as long as the worker's messages matter: for good.
    on_message.forget();

    wasm_bindgen_futures::spawn_local(async move {
        let mut next = 0u32;
        while let Some(job) = jobs_rx.recv().await {
            match job {
                Job::Ask { request, reply } => {
                    next = next.wrapping_add(1);
                    pending.borrow_mut().insert(next, (reply, now()));
                    if post(&worker, "ask", next, "request", &request).is_err() {
                        // Its reply is dropped: the screen says the store stopped.
                        pending.borrow_mut().remove(&next);
                    }
                }
                Job::Account { ask, reply } => {
                    next = next.wrapping_add(1);
                    accounts.borrow_mut().insert(next, reply);
                    if post(&worker, "account", next, "ask", &api::encode(&ask)).is_err() {
                        accounts.borrow_mut().remove(&next);
                    }
                }
            }
        }
    });

    let config = AppConfig {
        backend: Backend::new(jobs, revision, opened, Some(sync_status)),
        platform: Platform::new(PathBuf::from("aftercall"), false, true),
    };
    dioxus_web::launch::launch_virtual_dom(
        VirtualDom::new(App).with_root_context(config),
        dioxus_web::Config::new().rootname("main"),
    );
}

/// Posts `{kind, id, [field]: bytes}` to the worker.
fn post(
    worker: &web_sys::Worker,
    kind: &str,
    id: u32,
    field: &str,
    bytes: &[u8],
) -> Result<(), JsValue> {
    let message = Object::new();
    Reflect::set(&message, &"kind".into(), &kind.into())?;
    Reflect::set(&message, &"id".into(), &id.into())?;
    Reflect::set(&message, &field.into(), &Uint8Array::from(bytes))?;
    worker.post_message(&message)
}

/// The page's clock, in milliseconds (`performance.now()`).
fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// Records `name` from `start` to now in the page's performance timeline (the
/// browser's developer tools show it; the benchmarks read it).
fn measure(name: &str, start: f64) {
    let Some(performance) = web_sys::window().and_then(|w| w.performance()) else {
        return;
    };
    let options = Object::new();
    let _ = Reflect::set(&options, &"start".into(), &start.into());
    let _ = Reflect::set(&options, &"end".into(), &performance.now().into());
    if let Ok(measure) = Reflect::get(&performance, &"measure".into()) {
        if let Ok(measure) = measure.dyn_into::<js_sys::Function>() {
            let _ = measure.call2(&performance, &name.into(), &options);
        }
    }
}
