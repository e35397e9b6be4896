//! The session a window or browser tab shares: the backend that owns the store,
//! the platform's services, the screen, the revision that tells views to ask
//! again, and the message line. Views read through [`use_query`] and write through
//! [`Session::send`]; neither the store nor a file is reachable from here.

use aftercall_shared::api::{FromReply, Reply, Request};
use dioxus::prelude::*;

use super::route::Screen;
use crate::backend::Backend;
use crate::platform::Platform;

/// A short message shown over the screen: a confirmation or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
    /// A record that was just deleted and can be brought back.
    pub undo: Option<aftercall_shared::model::RecordId>,
}

/// Everything the screens share. Cheap to clone: signals and handles.
#[derive(Clone)]
pub struct Session {
    pub backend: Backend,
    pub platform: Platform,
    /// Raised whenever the data changed (a write here, entries synced in).
    pub revision: Signal<u64>,
    pub screen: Signal<Screen>,
    pub notice: Signal<Option<Notice>>,
    /// The sync task's latest status (`None` when no sync task runs here).
    pub sync_status: Signal<Option<crate::sync::SyncStatus>>,
}

impl PartialEq for Session {
    fn eq(&self, other: &Self) -> bool {
        self.backend == other.backend
    }
}

impl Session {
    /// Makes the session (inside a component).
    pub fn new(backend: Backend, platform: Platform) -> Self {
        Session {
            backend,
            platform,
            sync_status: Signal::new(None),
            revision: Signal::new(0),
            screen: Signal::new(Screen::Capture),
            notice: Signal::new(None),
        }
    }

    /// Sends a request and gives its typed reply; a failure is shown on the message
    /// line and gives `None`.
    pub async fn send<T: FromReply>(&self, request: Request) -> Option<T> {
        match self.backend.get::<T>(&request).await {
            Ok(value) => Some(value),
            Err(failure) => {
                self.error(failure.message);
                None
            }
        }
    }

    /// Sends a command without waiting for it and confirms it with `done` once it
    /// is saved (a failure is shown instead).
    pub fn act(&self, request: Request, done: impl Into<String>) {
        let session = self.clone();
        let done = done.into();
        spawn(async move {
            match session.backend.ask(&request).await {
                Reply::Failed(failure) => session.error(failure.message),
                _ => session.done(done),
            }
        });
    }

    /// Goes to a screen.
    pub fn go(&self, screen: Screen) {
        let mut s = self.screen;
        s.set(screen);
        // A message belongs to the screen it was said on.
        let mut n = self.notice;
        n.set(None);
    }

    /// Opens Capture filled in with `draft`. A capture already half-typed is never
    /// overwritten: it stays, and the user is told to save it first.
    pub fn capture_with(&self, draft: crate::ui::draft::Draft) {
        if self.platform.load_draft().is_some_and(|d| !d.is_blank()) {
            self.go(Screen::Capture);
            self.error(
                "A capture is already under way: save it, then start this one again from Today.",
            );
            return;
        }
        self.platform.keep_draft(&draft);
        self.go(Screen::Capture);
    }

    /// Shows a confirmation.
    pub fn done(&self, text: impl Into<String>) {
        self.notify(Notice {
            text: text.into(),
            error: false,
            undo: None,
        });
    }

    /// Shows an error.
    pub fn error(&self, text: impl Into<String>) {
        self.notify(Notice {
            text: text.into(),
            error: true,
            undo: None,
        });
    }

    /// Shows a notice.
    pub fn notify(&self, notice: Notice) {
        let mut n = self.notice;
        n.set(Some(notice));
    }
}

/// The session of the surrounding app.
pub fn use_session() -> Session {
    use_context::<Session>()
}

/// The latest sync status (`None` when no sync task runs here).
pub fn use_sync_status() -> Option<crate::sync::SyncStatus> {
    (use_session().sync_status)()
}

/// What a view has of a query: nothing yet, the answer, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded<T> {
    Loading,
    Ready(T),
    Failed(String),
}

impl<T> Loaded<T> {
    /// The answer, if it is in.
    pub fn ready(self) -> Option<T> {
        match self {
            Loaded::Ready(value) => Some(value),
            _ => None,
        }
    }

    /// What to show instead of the answer while there is none.
    pub fn placeholder(&self) -> Element {
        match self {
            Loaded::Loading => rsx! {
                p { class: "loading", role: "status", "aria-live": "polite", "Loading…" }
            },
            Loaded::Failed(e) => rsx! { p { class: "error", role: "alert", "{e}" } },
            Loaded::Ready(_) => rsx! {},
        }
    }
}

/// Asks `request`, and again whenever the view asks a different one or the data
/// changes. While a new answer is on its way the previous one stays shown.
pub fn use_query<T>(request: Request) -> Loaded<T>
where
    T: FromReply + Clone + 'static,
{
    query_hook(request, false)
}

/// As [`use_query`], but an answer to an earlier request is not shown: the
/// typeahead must not offer the people of a name typed a keystroke ago.
pub fn use_query_exact<T>(request: Request) -> Loaded<T>
where
    T: FromReply + Clone + 'static,
{
    query_hook(request, true)
}

fn query_hook<T>(request: Request, exact: bool) -> Loaded<T>
where
    T: FromReply + Clone + 'static,
{
    let session = use_session();
    let mut asked = use_signal(|| request.clone());
    if *asked.peek() != request {
        asked.set(request.clone());
    }
    let resource = use_resource(move || {
        let request = asked();
        let _ = (session.revision)();
        let backend = session.backend.clone();
        async move {
            let answer = backend.get::<T>(&request).await;
            (request, answer)
        }
    });
    let value = resource.read();
    match &*value {
        None => Loaded::Loading,
        Some((answered, _)) if exact && *answered != request => Loaded::Loading,
        Some((_, Ok(v))) => Loaded::Ready(v.clone()),
        Some((_, Err(f))) => Loaded::Failed(f.message.clone()),
    }
}

/// Today in the user's time zone.
pub fn local_today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

/// The user's time zone offset now.
pub fn local_offset() -> chrono::FixedOffset {
    *chrono::Local::now().fixed_offset().offset()
}
