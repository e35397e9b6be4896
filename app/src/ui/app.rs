//! The root component: opens the store, provides the session, lays out the
//! navigation and the current screen.

use std::path::PathBuf;

use dioxus::prelude::*;

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
    pub data_dir: PathBuf,
    /// Raise system notifications for follow-ups falling due (the desktop window).
    pub system_notifications: bool,
    /// Ask where to save an export with the system's save dialog (the desktop
    /// window); elsewhere exports go to the data directory and a download link.
    pub native_dialogs: bool,
    /// The sync task for this data directory (one per process, shared by windows and tabs).
    pub sync: Option<crate::sync::SyncHandle>,
}

impl PartialEq for Session {
    fn eq(&self, other: &Self) -> bool {
        self.same_store(other)
    }
}

/// The app.
#[component]
pub fn App() -> Element {
    let config = use_context::<AppConfig>();
    let opened = use_hook(|| {
        crate::data::open_store(&config.data_dir)
            .map(|store| Session::new(config.data_dir.clone(), store, config.sync.clone()))
            .map_err(|e| format!("{e:#}"))
    });
    match opened {
        Ok(session) => rsx! { Shell { session, notifications: config.system_notifications } },
        Err(e) => rsx! {
            style { {STYLE} }
            main { class: "screen",
                h1 { "Aftercall cannot open your data" }
                p { class: "error", "{e}" }
            }
        },
    }
}

#[component]
fn Shell(session: Session, notifications: bool) -> Element {
    let session = use_context_provider(|| session.clone());
    use_hook({
        let session = session.clone();
        move || {
            if notifications {
                super::notify::follow_ups_falling_due(&session);
            }
        }
    });
    // Follow the sync task: its status, and re-query when other devices' changes land.
    use_hook({
        let session = session.clone();
        move || {
            if let Some(handle) = session.sync.clone() {
                let mut status = session.sync_status;
                let mut rx = handle.status();
                spawn(async move {
                    loop {
                        let now = rx.borrow_and_update().clone();
                        status.set(Some(now));
                        if rx.changed().await.is_err() {
                            break;
                        }
                    }
                });
                let mut changes = handle.changes();
                let s = session.clone();
                spawn(async move {
                    while changes.changed().await.is_ok() {
                        s.changed();
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
