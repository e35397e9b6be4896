//! The session a window or browser tab shares: the open store, the screen, the
//! revision that tells views to re-query, and the message line.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use aftercall_shared::Store;
use dioxus::prelude::*;

use super::route::Screen;

/// A short message shown over the screen: a confirmation or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
    /// A record that was just deleted and can be brought back.
    pub undo: Option<aftercall_shared::model::RecordId>,
}

/// How long after a save its write-ahead log is folded into the store's file.
const CHECKPOINT_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// Called after every local write (the sync driver hooks in here).
pub type AfterWrite = Rc<dyn Fn()>;

/// Everything the screens share. Cheap to clone: signals are handles.
#[derive(Clone)]
pub struct Session {
    pub data_dir: PathBuf,
    store: Rc<RefCell<Store>>,
    pub revision: Signal<u64>,
    pub screen: Signal<Screen>,
    pub notice: Signal<Option<Notice>>,
    after_write: Rc<RefCell<Option<AfterWrite>>>,
    /// Counts saves; a pending checkpoint runs only if no save came after it.
    checkpoint_due: Rc<std::cell::Cell<u64>>,
    /// The sync task, when this app runs one.
    pub sync: Option<crate::sync::SyncHandle>,
    /// Its latest status.
    pub sync_status: Signal<Option<crate::sync::SyncStatus>>,
}

impl Session {
    /// Makes the session for a freshly opened store (inside a component).
    pub fn new(data_dir: PathBuf, store: Store, sync: Option<crate::sync::SyncHandle>) -> Self {
        Session {
            sync,
            sync_status: Signal::new(None),
            data_dir,
            store: Rc::new(RefCell::new(store)),
            revision: Signal::new(0),
            screen: Signal::new(Screen::Capture),
            notice: Signal::new(None),
            after_write: Rc::new(RefCell::new(None)),
            checkpoint_due: Rc::new(std::cell::Cell::new(0)),
        }
    }

    /// Whether two sessions share one store.
    pub fn same_store(&self, other: &Session) -> bool {
        Rc::ptr_eq(&self.store, &other.store)
    }

    /// Runs a query; the calling component re-renders when data changes.
    pub fn query<T>(
        &self,
        f: impl FnOnce(&Store) -> aftercall_shared::Result<T>,
    ) -> Result<T, String> {
        let _ = (self.revision)();
        f(&self.store.borrow()).map_err(|e| e.to_string())
    }

    /// Reads the store without subscribing to changes (for one-off reads in handlers).
    pub fn peek<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.store.borrow())
    }

    /// Runs a command: on success every view re-queries and sync is told; on failure
    /// the error is shown and `None` returned.
    pub fn command<T>(
        &self,
        f: impl FnOnce(&mut Store) -> aftercall_shared::Result<T>,
    ) -> Option<T> {
        let result = f(&mut self.store.borrow_mut());
        match result {
            Ok(value) => {
                self.changed();
                if let Some(hook) = self.after_write.borrow().clone() {
                    hook();
                }
                self.sync_nudge();
                self.checkpoint_soon();
                Some(value)
            }
            Err(e) => {
                self.error(e.to_string());
                None
            }
        }
    }

    /// Folds the store's write-ahead log into its file once the user has moved on, so
    /// that no save waits for it. Saves close together share one fold.
    fn checkpoint_soon(&self) {
        let store = self.store.clone();
        let generation = self.checkpoint_due.get() + 1;
        self.checkpoint_due.set(generation);
        let due = self.checkpoint_due.clone();
        spawn(async move {
            tokio::time::sleep(CHECKPOINT_AFTER).await;
            if due.get() == generation {
                if let Err(e) = store.borrow().checkpoint() {
                    tracing::warn!("folding the store's log: {e}");
                }
            }
        });
    }

    /// Tells every view to re-query (after a local write or remote changes).
    pub fn changed(&self) {
        let mut revision = self.revision;
        revision += 1;
    }

    /// Tells the sync task to look again (after a write or a change of account).
    pub fn sync_nudge(&self) {
        if let Some(handle) = &self.sync {
            handle.local_write();
        }
    }

    /// Registers what to do after every local write.
    pub fn on_write(&self, hook: AfterWrite) {
        *self.after_write.borrow_mut() = Some(hook);
    }

    /// Goes to a screen.
    pub fn go(&self, screen: Screen) {
        let mut s = self.screen;
        s.set(screen);
        // A message belongs to the screen it was said on.
        let mut n = self.notice;
        n.set(None);
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

    /// A setting, or `None` when unset or unreadable.
    pub fn setting(&self, key: &str) -> Option<String> {
        self.store.borrow().setting(key).ok().flatten()
    }

    /// Stores a setting; failures are shown.
    pub fn set_setting(&self, key: &str, value: Option<&str>) {
        if let Err(e) = self.store.borrow().set_setting(key, value) {
            self.error(e.to_string());
        }
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

/// Today in the user's time zone.
pub fn local_today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

/// The user's time zone offset now.
pub fn local_offset() -> chrono::FixedOffset {
    *chrono::Local::now().fixed_offset().offset()
}
