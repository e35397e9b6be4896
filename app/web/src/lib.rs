//! # Aftercall's phone web app
//!
//! One wasm module serves two places. In the page, [`start_page`] renders the same
//! screens as the desktop window, with a [`Backend`] whose jobs cross to the store's
//! worker as encoded requests. In a dedicated worker, [`StoreWorker`] opens the
//! store with SQLite on the origin-private file system (the sync-access-handle
//! pool) and answers them: a capture is on disk when its reply leaves the worker.
//! `static/worker.js` takes the Web Lock that keeps a second tab out and carries
//! the messages; `static/main.js` starts both, and gives `static/scan.js` (the
//! camera, for pairing) [`read_qr`] to read its frames with.

#![cfg(target_arch = "wasm32")]

mod page;
mod worker;

pub use page::start_page;
pub use worker::{Answer, StoreWorker};

use aftercall_app::backend::Backend;

/// The text of a QR code in a camera frame (a canvas's RGBA pixels), for
/// `static/scan.js` where the browser has no `BarcodeDetector` (Safari, Firefox,
/// desktop Chromium).
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn read_qr(width: u32, height: u32, rgba: &[u8]) -> Option<String> {
    aftercall_shared::crypto::read_qr(width as usize, height as usize, rgba)
}
