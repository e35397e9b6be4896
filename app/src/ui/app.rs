//! The root component: opens the store, provides the session, lays out the
//! navigation and the current screen.

use dioxus::prelude::*;

use crate::backend::{Backend, NotOpened};
use crate::platform::Platform;

use super::components::{Nav, NoticeLine};
use super::route::Screen;
use super::session::Session;
use super::views::{
    Capture, EventMode, EventPageView, More, People, Review, SyncScreen, Today, Transfer,
};

/// The stylesheet. It is inlined (rather than served through `asset!`) so that the
/// same bytes reach the desktop window, the mobile web view and the browser mode
/// without the bundler that `asset!` relies on.
pub const STYLE: &str = include_str!("../../assets/main.css");

/// What the app is started with, by the desktop launcher or the browser mode.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The backend owning this data folder's store (one per process, shared by
    /// windows and tabs).
    pub backend: Backend,
    pub platform: Platform,
    /// The sync task for this data folder (one per process), stopped at shut-down.
    #[cfg(not(target_arch = "wasm32"))]
    pub sync: Option<crate::sync::SyncHandle>,
}

/// The app.
#[component]
pub fn App() -> Element {
    let config = use_context::<AppConfig>();
    // The screens never touch the store: opening it here would panic in debug builds.
    #[cfg(not(target_arch = "wasm32"))]
    use_hook(crate::data::screens_run_on_this_thread);
    let session = use_hook(|| Session::new(config.backend.clone(), config.platform.clone()));
    let opened = use_resource({
        let backend = config.backend.clone();
        move || {
            let backend = backend.clone();
            async move { backend.opened().await }
        }
    });
    let opened = opened.read().clone();
    match opened {
        None => rsx! {
            style { {STYLE} }
            main { class: "main screen", p { class: "loading", role: "status", "Opening your notes…" } }
        },
        Some(Ok(())) => rsx! { Shell { session } },
        Some(Err(e)) => {
            let heading = match e {
                NotOpened::InUse(_) => "Aftercall is open in another tab",
                NotOpened::Failed(_) => "Aftercall cannot open your data",
            };
            rsx! {
                style { {STYLE} }
                main { class: "main screen",
                    h1 { "{heading}" }
                    p { class: "error", "{e}" }
                }
            }
        }
    }
}

#[component]
fn Shell(session: Session) -> Element {
    let session = use_context_provider(|| session.clone());
    use_hook({
        let session = session.clone();
        move || {
            if session.platform.system_notifications {
                let session = session.clone();
                spawn(async move { super::notify::follow_ups_falling_due(&session).await });
            }
            // Meetings end while the app is open: when the next one ends (or a write
            // brings new ones), the ones newly ended are notified and the views asked
            // again, so Today shows them.
            {
                let session = session.clone();
                let mut revision = session.revision;
                let mut writes = session.backend.revision();
                spawn(async move {
                    let mut seen = super::notify::MeetingsSeen::default();
                    loop {
                        let (changed, next_end) =
                            super::notify::meetings_ended(&session, &mut seen).await;
                        if changed {
                            revision += 1;
                        }
                        let wait = super::notify::next_look(chrono::Utc::now(), next_end);
                        let slept = std::pin::pin!(session.platform.sleep(wait));
                        let written = std::pin::pin!(writes.changed());
                        if let futures_util::future::Either::Right((Err(_), _)) =
                            futures_util::future::select(slept, written).await
                        {
                            // The backend is gone: look only every minute now.
                            session.platform.sleep(wait).await;
                        }
                    }
                });
            }
            // Every change the backend announces (a write, entries synced in) makes
            // the views ask again.
            let mut revision = session.revision;
            let mut changes = session.backend.revision();
            spawn(async move {
                while changes.changed().await.is_ok() {
                    revision += 1;
                }
            });
        }
    });
    // Follow the sync task's status.
    use_hook({
        let session = session.clone();
        move || {
            if let Some(mut rx) = session.backend.sync_status() {
                let mut status = session.sync_status;
                spawn(async move {
                    loop {
                        let now = rx.borrow_and_update().clone();
                        status.set(Some(now));
                        if rx.changed().await.is_err() {
                            break;
                        }
                    }
                });
            }
        }
    });
    let screen = (session.screen)();
    let slug = screen.section().slug();
    rsx! {
        style { {STYLE} }
        div { class: "app", "data-screen": "{slug}",
            Nav {}
            main { class: "main", id: "content",
                {match screen.clone() {
                    Screen::Capture => rsx! { Capture {} },
                    Screen::Today => rsx! { Today {} },
                    // One arm for the list and a person's page, so the search survives picking someone.
                    Screen::People | Screen::Person(_) => rsx! {
                        People { selected: if let Screen::Person(id) = &screen { Some(id.clone()) } else { None } }
                    },
                    Screen::Review => rsx! { Review {} },
                    Screen::Event => rsx! { EventMode {} },
                    Screen::EventPage(id) => rsx! {
                        for id in std::iter::once(id) {
                            EventPageView { key: "{id}", id }
                        }
                    },
                    Screen::Sync => rsx! { SyncScreen {} },
                    Screen::Transfer => rsx! { Transfer {} },
                    Screen::More => rsx! { More {} },
                }}
            }
            NoticeLine {}
        }
    }
}
