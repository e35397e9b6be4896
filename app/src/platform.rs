//! What the screens need from the platform they run on, behind one small
//! interface: the capture draft kept in the data folder, reading a file the user
//! names, saving an export (the system's save dialog, or the exports folder and a
//! download link), system notifications, and timers. Views call these and do no
//! file IO, start no thread and no runtime of their own.
//!
//! In a browser (the phone web app, `wasm32`) the draft is kept in the page's local
//! storage, an export is offered as a download, a file is read only when picked, and
//! the camera reads the recovery phrase's QR code (`static/scan.js`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ui::draft::{self, Draft, DRAFT_FILE};

/// The platform services of one app (a desktop window, or the browser mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    data_dir: PathBuf,
    /// Exports ask where to go with the system's save dialog (the desktop window).
    pub native_dialogs: bool,
    /// Follow-ups falling due raise system notifications (the desktop window).
    pub system_notifications: bool,
}

/// Where an export ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// Written to this file.
    Written(PathBuf),
    /// The user closed the save dialog.
    Cancelled,
    /// Nowhere to write it (a browser): the screen offers it as a download.
    Download,
}

impl Platform {
    pub fn new(data_dir: PathBuf, native_dialogs: bool, system_notifications: bool) -> Platform {
        Platform {
            data_dir,
            native_dialogs,
            system_notifications,
        }
    }

    /// Whether files are read and written by path here (not in a browser, where
    /// files are picked and exports download).
    pub fn has_file_paths(&self) -> bool {
        cfg!(not(target_arch = "wasm32"))
    }

    /// The relay to suggest when setting up sync: in a browser, the server the app
    /// came from (the relay serves the phone web app), over `wss://` when the page
    /// came over HTTPS.
    pub fn suggested_relay(&self) -> Option<String> {
        #[cfg(target_arch = "wasm32")]
        {
            let location = web_sys::window()?.location();
            let scheme = match location.protocol().ok()?.as_str() {
                "https:" => "wss",
                _ => "ws",
            };
            Some(format!("{scheme}://{}/sync", location.host().ok()?))
        }
        #[cfg(not(target_arch = "wasm32"))]
        None
    }

    /// Whether the camera can read a QR code here: in a browser that gives the page
    /// a camera (the phone web app).
    pub fn can_scan(&self) -> bool {
        #[cfg(target_arch = "wasm32")]
        return web::can_scan();
        #[cfg(not(target_arch = "wasm32"))]
        false
    }

    /// Reads a QR code with the camera, showing what it sees in the page's `<video>`
    /// of id `video_id`: the code's text; `None` once that element has left the page
    /// (the person cancelled); or why the camera could not be used.
    pub async fn scan_code(&self, video_id: &str) -> Result<Option<String>, String> {
        #[cfg(target_arch = "wasm32")]
        return web::scan_code(video_id).await;
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = video_id;
            Err("there is no camera to scan with here".into())
        }
    }

    /// The capture draft left from last time, if one reads.
    pub fn load_draft(&self) -> Option<Draft> {
        #[cfg(not(target_arch = "wasm32"))]
        let text = std::fs::read_to_string(self.data_dir.join(DRAFT_FILE)).ok()?;
        #[cfg(target_arch = "wasm32")]
        let text = web::storage()?.get_item(&self.draft_key()).ok()??;
        draft::from_json(&text)
    }

    /// Keeps the half-typed capture (a blank one removes the file).
    pub fn keep_draft(&self, draft: &Draft) {
        if let Err(e) = self.write_draft(draft) {
            tracing::warn!("cannot keep the draft: {e}");
        }
    }

    /// Forgets the draft once it is saved.
    pub fn clear_draft(&self) {
        if let Err(e) = self.remove_draft() {
            tracing::warn!("cannot remove the saved draft: {e}");
        }
    }

    /// Written to a temporary file first, so a crash mid-write keeps the previous
    /// draft; a blank form removes the file.
    fn write_draft(&self, draft: &Draft) -> std::io::Result<()> {
        if draft.is_blank() {
            return self.remove_draft();
        }
        #[cfg(target_arch = "wasm32")]
        {
            let text = serde_json::to_string(draft).map_err(std::io::Error::other)?;
            web::storage()
                .ok_or_else(|| std::io::Error::other("no local storage"))?
                .set_item(&self.draft_key(), &text)
                .map_err(|e| std::io::Error::other(format!("{e:?}")))
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            crate::owner_only::create_dir_all(&self.data_dir)?;
            let tmp = self.data_dir.join(format!("{DRAFT_FILE}.tmp"));
            let text = serde_json::to_string(draft).map_err(std::io::Error::other)?;
            crate::owner_only::write(&tmp, text.as_bytes())?;
            std::fs::rename(tmp, self.data_dir.join(DRAFT_FILE))
        }
    }

    fn remove_draft(&self) -> std::io::Result<()> {
        #[cfg(target_arch = "wasm32")]
        if let Some(storage) = web::storage() {
            return storage
                .remove_item(&self.draft_key())
                .map_err(|e| std::io::Error::other(format!("{e:?}")));
        }
        match std::fs::remove_file(self.data_dir.join(DRAFT_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The bytes of the file at `path`, refusing one over `limit` bytes unread.
    pub fn read_file(&self, path: &str, limit: u64) -> Result<Vec<u8>, FileError> {
        if cfg!(target_arch = "wasm32") {
            return Err(FileError::Unreadable(
                "a browser reads only a file you choose: use “Choose a file”".into(),
            ));
        }
        let cannot = |e: std::io::Error| FileError::Unreadable(format!("cannot read {path}: {e}"));
        let size = std::fs::metadata(path).map_err(cannot)?.len();
        if size > limit {
            return Err(FileError::TooLarge(size));
        }
        std::fs::read(path).map_err(cannot)
    }

    /// Saves an export named like `name` (with its extension): where the user
    /// chooses (desktop), else in the data folder's `exports/`.
    pub async fn save_export(&self, name: &str, text: &str) -> Result<Saved, String> {
        self.save_file(name, text.as_bytes()).await
    }

    /// Saves a file named `name` (an export, an attachment's content): where the
    /// user chooses (desktop), else in the data folder's `exports/`; in a browser the
    /// screen offers it as a download.
    pub async fn save_file(&self, name: &str, bytes: &[u8]) -> Result<Saved, String> {
        if cfg!(target_arch = "wasm32") {
            return Ok(Saved::Download);
        }
        let path = self.data_dir.join("exports").join(name);
        let path = if self.native_dialogs {
            match ask_where(&path).await {
                Some(chosen) => chosen,
                None => return Ok(Saved::Cancelled),
            }
        } else {
            path
        };
        path.parent()
            .map_or(Ok(()), crate::owner_only::create_dir_all)
            .and_then(|()| crate::owner_only::write(&path, bytes))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(Saved::Written(path))
    }

    /// Whether notifications can be raised here, or asked for.
    pub fn notifications(&self) -> Notifications {
        if !self.system_notifications {
            return Notifications::Unavailable;
        }
        #[cfg(not(target_arch = "wasm32"))]
        return Notifications::Allowed;
        #[cfg(target_arch = "wasm32")]
        web::notifications()
    }

    /// Asks the person to allow notifications (a browser shows its prompt); says
    /// what they chose.
    pub async fn ask_for_notifications(&self) -> Notifications {
        #[cfg(target_arch = "wasm32")]
        if self.system_notifications {
            return web::ask_for_notifications().await;
        }
        self.notifications()
    }

    /// Raises a system notification where the platform has them; never waits.
    pub fn notify(&self, summary: &str, body: &str) {
        if self.system_notifications {
            show(summary, body);
        } else {
            tracing::info!("{summary}");
        }
    }

    /// Waits `duration` without holding up the screens.
    pub async fn sleep(&self, duration: Duration) {
        #[cfg(not(target_arch = "wasm32"))]
        tokio::time::sleep(duration).await;
        #[cfg(target_arch = "wasm32")]
        web::sleep(duration).await;
    }

    /// Where a browser keeps the draft: one key per data folder name.
    #[cfg(target_arch = "wasm32")]
    fn draft_key(&self) -> String {
        format!("{}/{DRAFT_FILE}", self.data_dir.display())
    }
}

/// The browser's side of the platform.
#[cfg(target_arch = "wasm32")]
pub(crate) mod web {
    use std::time::Duration;

    /// The page's local storage, where there is one.
    pub fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    /// The page's `navigator.mediaDevices.getUserMedia` is there and `scan.js`
    /// installed `aftercallScan`.
    pub fn can_scan() -> bool {
        let Some(window) = web_sys::window() else {
            return false;
        };
        let get = |from: &wasm_bindgen::JsValue, name: &str| {
            js_sys::Reflect::get(from, &name.into()).unwrap_or(wasm_bindgen::JsValue::UNDEFINED)
        };
        let window = wasm_bindgen::JsValue::from(window);
        let devices = get(&get(&window, "navigator"), "mediaDevices");
        !devices.is_undefined()
            && get(&devices, "getUserMedia").is_function()
            && get(&window, "aftercallScan").is_function()
    }

    /// Runs `aftercallScan(video_id)` (static/scan.js): a string, null when
    /// cancelled, or a rejection saying why.
    pub async fn scan_code(video_id: &str) -> Result<Option<String>, String> {
        use wasm_bindgen::JsCast;
        let window = web_sys::window().ok_or("no page to scan in")?;
        let scan = js_sys::Reflect::get(&window, &"aftercallScan".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .ok_or("this page cannot scan")?;
        let promise = scan
            .call1(&window, &video_id.into())
            .map_err(|e| describe(&e))?
            .dyn_into::<js_sys::Promise>()
            .map_err(|_| "the scanner gave no answer".to_string())?;
        match wasm_bindgen_futures::JsFuture::from(promise).await {
            Ok(text) => Ok(text.as_string()),
            Err(e) => Err(describe(&e)),
        }
    }

    /// A JavaScript error's message (`NotAllowedError: Permission denied`).
    fn describe(error: &wasm_bindgen::JsValue) -> String {
        let get = |name: &str| js_sys::Reflect::get(error, &name.into()).ok()?.as_string();
        match (get("name"), get("message")) {
            (Some(name), Some(message)) => format!("{name}: {message}"),
            (None, Some(message)) => message,
            _ => error
                .as_string()
                .unwrap_or_else(|| "the camera failed".into()),
        }
    }

    /// Where the browser stands on notifications (`aftercallNotifications` in
    /// static/main.js).
    pub fn notifications() -> super::Notifications {
        let state = call_page("aftercallNotifications", &[]).and_then(|v| v.as_string());
        notifications_from(state.as_deref())
    }

    fn notifications_from(state: Option<&str>) -> super::Notifications {
        match state {
            Some("granted") => super::Notifications::Allowed,
            Some("default") => super::Notifications::CanAsk,
            _ => super::Notifications::Unavailable,
        }
    }

    /// Shows the browser's prompt; resolves with the person's choice.
    pub async fn ask_for_notifications() -> super::Notifications {
        use wasm_bindgen::JsCast;
        let Some(promise) = call_page("aftercallAskNotifications", &[])
            .and_then(|p| p.dyn_into::<js_sys::Promise>().ok())
        else {
            return super::Notifications::Unavailable;
        };
        let state = wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .ok()
            .and_then(|v| v.as_string());
        notifications_from(state.as_deref())
    }

    /// Shows a notification through the service worker (the one way phones take),
    /// if the person allowed them.
    pub fn notify(summary: &str, body: &str) {
        call_page("aftercallNotify", &[summary.into(), body.into()]);
    }

    /// Calls `window[name](...args)`, if the page defines it.
    fn call_page(name: &str, args: &[wasm_bindgen::JsValue]) -> Option<wasm_bindgen::JsValue> {
        use wasm_bindgen::JsCast;
        let window = web_sys::window()?;
        let f = js_sys::Reflect::get(&window, &name.into())
            .ok()?
            .dyn_into::<js_sys::Function>()
            .ok()?;
        let args: js_sys::Array = args.iter().collect();
        f.apply(&window, &args).ok()
    }

    /// Resolves after `duration`, through the browser's timer: the page's or, in
    /// a worker, the worker's.
    pub async fn sleep(duration: Duration) {
        use wasm_bindgen::JsCast;
        let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let global = js_sys::global();
            let set_timeout = js_sys::Reflect::get(&global, &"setTimeout".into())
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
            if let Some(set_timeout) = set_timeout {
                let _ = set_timeout.call2(&global, &resolve, &ms.into());
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}

/// Whether the app may raise notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notifications {
    Allowed,
    /// Not allowed yet: the person can be asked (in a browser, once).
    CanAsk,
    /// No notifications here, or the person refused them.
    Unavailable,
}

/// Why a named file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    /// Larger than the limit asked for: this many bytes.
    TooLarge(u64),
    Unreadable(String),
}

#[cfg(feature = "desktop")]
fn show(summary: &str, body: &str) {
    let (summary, body) = (summary.to_string(), body.to_string());
    // The notification service may be slow or absent: never hold up the window.
    std::thread::spawn(move || {
        if let Err(e) = notify_rust::Notification::new()
            .appname("Aftercall")
            .summary(&summary)
            .body(&body)
            .show()
        {
            tracing::info!("no system notification: {e}");
        }
    });
}

#[cfg(target_arch = "wasm32")]
fn show(summary: &str, body: &str) {
    web::notify(summary, body);
}

#[cfg(all(not(feature = "desktop"), not(target_arch = "wasm32")))]
fn show(summary: &str, _body: &str) {
    tracing::info!("{summary}");
}

/// The system's save dialog, starting at `suggested`; `None` when cancelled.
#[cfg(feature = "desktop")]
async fn ask_where(suggested: &Path) -> Option<PathBuf> {
    let mut dialog = rfd::AsyncFileDialog::new().set_title("Save as");
    if let Some(dir) = suggested.parent() {
        let _ = crate::owner_only::create_dir_all(dir);
        dialog = dialog.set_directory(dir);
    }
    if let Some(name) = suggested.file_name() {
        dialog = dialog.set_file_name(name.to_string_lossy());
    }
    dialog.save_file().await.map(|f| f.path().to_path_buf())
}

/// Builds without a window have no save dialog: the suggested place is used.
#[cfg(not(feature = "desktop"))]
async fn ask_where(suggested: &Path) -> Option<PathBuf> {
    Some(suggested.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftercall_shared::model::InteractionKind;

    #[test]
    fn a_half_typed_capture_survives_a_restart_and_goes_once_saved() {
        let dir = tempfile::tempdir().unwrap();
        let platform = Platform::new(dir.path().to_path_buf(), false, false);
        assert!(platform.load_draft().is_none());
        let mut d = Draft::new(InteractionKind::Value);
        d.person_text = "Ana Mül".into();
        d.capture.talked_about = "pricing ✓ ünïcode".into();
        d.add_referral();
        d.referral_mut(0).unwrap().name = "Bo".into();
        platform.keep_draft(&d);
        assert_eq!(platform.load_draft().unwrap(), d);
        platform.clear_draft();
        assert!(platform.load_draft().is_none());
        assert!(platform.remove_draft().is_ok(), "clearing twice is fine");
    }

    #[test]
    fn a_blank_form_leaves_no_draft_behind() {
        let dir = tempfile::tempdir().unwrap();
        let platform = Platform::new(dir.path().to_path_buf(), false, false);
        let mut d = Draft::new(InteractionKind::Casual);
        d.person_text = "x".into();
        platform.keep_draft(&d);
        assert!(platform.load_draft().is_some());
        d.person_text.clear();
        platform.keep_draft(&d);
        assert!(platform.load_draft().is_none());
        assert!(!dir.path().join(DRAFT_FILE).exists());
    }

    #[test]
    fn a_named_file_over_the_limit_is_refused_unread_and_a_missing_one_said_so() {
        let dir = tempfile::tempdir().unwrap();
        let platform = Platform::new(dir.path().to_path_buf(), false, false);
        let big = dir.path().join("big.vcf");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(1001).unwrap();
        assert_eq!(
            platform.read_file(big.to_str().unwrap(), 1000),
            Err(FileError::TooLarge(1001))
        );
        let small = dir.path().join("small.vcf");
        std::fs::write(&small, "BEGIN:VCARD\r\nEND:VCARD\r\n").unwrap();
        assert_eq!(
            platform
                .read_file(small.to_str().unwrap(), 1000)
                .unwrap()
                .len(),
            24
        );
        let Err(FileError::Unreadable(missing)) = platform.read_file("/no/such/contacts.vcf", 10)
        else {
            panic!("a missing file reads")
        };
        assert!(
            missing.starts_with("cannot read /no/such/contacts.vcf"),
            "{missing}"
        );
    }

    #[tokio::test]
    async fn an_export_goes_to_the_exports_folder_without_a_dialog() {
        let dir = tempfile::tempdir().unwrap();
        let platform = Platform::new(dir.path().to_path_buf(), false, false);
        let saved = platform
            .save_export("aftercall-1.csv", "a,b\n")
            .await
            .unwrap();
        let path = dir.path().join("exports").join("aftercall-1.csv");
        assert_eq!(saved, Saved::Written(path.clone()));
        assert_eq!(std::fs::read_to_string(path).unwrap(), "a,b\n");
    }
}
