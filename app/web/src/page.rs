//! The page's side: the screens, and a [`Backend`] whose jobs go to the store's
//! worker as messages `{id, request}` and come back as `{kind: "reply", id, reply,
//! wrote}`. The worker first says `{kind: "opened"}` or `{kind: "failed", message}`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use aftercall_app::backend::Job;
use aftercall_app::platform::Platform;
use aftercall_app::ui::{App, AppConfig};
use dioxus::prelude::VirtualDom;
use js_sys::{Object, Reflect, Uint8Array};
use tokio::sync::{mpsc, oneshot, watch};
use wasm_bindgen::prelude::*;

use crate::Backend;

/// Replies not in yet, by request number.
type Pending = Rc<RefCell<HashMap<u32, oneshot::Sender<Vec<u8>>>>>;

/// What sync says on the phone until it runs in the worker.
const NO_SYNC_YET: &str =
    "Sync is not in the phone web app yet: your notes stay on this phone. Pair from the desktop app.";

/// Renders the app into the page's `#main`, its store in `worker`.
#[wasm_bindgen]
pub fn start_page(worker: web_sys::Worker) {
    let (jobs, mut jobs_rx) = mpsc::unbounded_channel::<Job>();
    let (revision_tx, revision) = watch::channel(0u64);
    let (opened_tx, opened) = watch::channel(None);
    let pending: Pending = Rc::default();

    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new({
        let pending = pending.clone();
        move |event: web_sys::MessageEvent| {
            let data = event.data();
            let field = |name: &str| Reflect::get(&data, &JsValue::from_str(name)).ok();
            match field("kind").and_then(|k| k.as_string()).as_deref() {
                Some("opened") => {
                    opened_tx.send_replace(Some(Ok(())));
                }
                Some("failed") => {
                    let message = field("message")
                        .and_then(|m| m.as_string())
                        .unwrap_or_else(|| "the store's worker failed".into());
                    opened_tx.send_replace(Some(Err(message)));
                }
                Some("reply") => {
                    let id = field("id").and_then(|v| v.as_f64()).unwrap_or(-1.0) as u32;
                    let reply = field("reply")
                        .and_then(|r| r.dyn_into::<Uint8Array>().ok())
                        .map(|r| r.to_vec());
                    if field("wrote").and_then(|w| w.as_bool()) == Some(true) {
                        revision_tx.send_modify(|n| *n += 1);
                    }
                    if let (Some(waiting), Some(reply)) = (pending.borrow_mut().remove(&id), reply)
                    {
                        let _ = waiting.send(reply);
                    }
                }
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
                    pending.borrow_mut().insert(next, reply);
                    let message = Object::new();
                    let _ = Reflect::set(&message, &"id".into(), &next.into());
                    let _ = Reflect::set(
                        &message,
                        &"request".into(),
                        &Uint8Array::from(request.as_slice()),
                    );
                    if worker.post_message(&message).is_err() {
                        // Its reply is dropped: the screen says the store stopped.
                        pending.borrow_mut().remove(&next);
                    }
                }
                Job::Account { reply, .. } => {
                    let _ = reply.send(Err(NO_SYNC_YET.into()));
                }
            }
        }
    });

    let config = AppConfig {
        backend: Backend::new(jobs, revision, opened, None),
        platform: Platform::new(PathBuf::from("aftercall"), false, false),
    };
    dioxus_web::launch::launch_virtual_dom(
        VirtualDom::new(App).with_root_context(config),
        dioxus_web::Config::new().rootname("main"),
    );
}
