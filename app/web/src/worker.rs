//! The store's side: a dedicated worker owning the one SQLite connection.

use std::path::Path;

use aftercall_app::system::{OsEntropy, SystemClock};
use aftercall_shared::api::Service;
use aftercall_shared::Store;
use sqlite_wasm_vfs::sahpool::{install, OpfsSAHPoolCfg};
use wasm_bindgen::prelude::*;

/// The store's file, inside the pool's folder of the origin-private file system.
const STORE_FILE: &str = "/aftercall.sqlite";

/// The store, opened in this worker.
#[wasm_bindgen]
pub struct StoreWorker {
    service: Service,
}

/// The reply to one request, and whether it changed data (the page then asks again).
#[wasm_bindgen]
pub struct Answer {
    reply: Vec<u8>,
    wrote: bool,
}

#[wasm_bindgen]
impl Answer {
    /// The encoded reply.
    #[wasm_bindgen(getter)]
    pub fn reply(&self) -> Vec<u8> {
        self.reply.clone()
    }

    /// Whether the request changed data.
    #[wasm_bindgen(getter)]
    pub fn wrote(&self) -> bool {
        self.wrote
    }
}

#[wasm_bindgen]
impl StoreWorker {
    /// Installs the file-system pool as SQLite's default and opens (creating and
    /// migrating) the store in it. Fails with a sentence for the screen.
    pub async fn open() -> Result<StoreWorker, JsError> {
        install::<sqlite_wasm_rs::WasmOsCallback>(&OpfsSAHPoolCfg::default(), true)
            .await
            .map_err(|e| JsError::new(&format!("this browser gives no private storage: {e}")))?;
        let store = Store::open(
            Path::new(STORE_FILE),
            Box::new(SystemClock),
            Box::new(OsEntropy),
        )
        .map_err(|e| JsError::new(&format!("cannot open your notes: {e}")))?;
        Ok(StoreWorker {
            service: Service::new(store),
        })
    }

    /// Answers one encoded request.
    pub fn answer(&mut self, request: &[u8]) -> Answer {
        let (reply, wrote) =
            aftercall_app::backend::answer_encoded(Some(&mut self.service), request);
        Answer { reply, wrote }
    }
}
