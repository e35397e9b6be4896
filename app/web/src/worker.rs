//! The store's side: a dedicated worker owning the one SQLite connection, and the
//! sync with the relay beside it.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use aftercall_app::backend::AccountRequest;
use aftercall_app::sync::BrowserSync;
use aftercall_app::system::{OsEntropy, SystemClock};
use aftercall_shared::api::{self, Service};
use aftercall_shared::Store;
use js_sys::Uint8Array;
use sqlite_wasm_vfs::sahpool::{install, OpfsSAHPoolCfg};
use wasm_bindgen::prelude::*;

/// The store's file, inside the pool's folder of the origin-private file system.
const STORE_FILE: &str = "/aftercall.sqlite";

/// The store, opened in this worker, and its sync.
#[wasm_bindgen]
pub struct StoreWorker {
    service: Rc<RefCell<Service>>,
    sync: BrowserSync,
}

/// The reply to one request, whether it changed data (the page then asks again),
/// and which request it was (for the page's timings).
#[wasm_bindgen]
pub struct Answer {
    reply: Vec<u8>,
    wrote: bool,
    name: Option<&'static str>,
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

    /// The request's name (`capture`, `people`, …), if it could be read.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> Option<String> {
        self.name.map(str::to_string)
    }
}

#[wasm_bindgen]
impl StoreWorker {
    /// Installs the file-system pool as SQLite's default, opens (creating and
    /// migrating) the store in it and starts its sync, which calls `news` with each
    /// encoded [`SyncNews`](aftercall_app::sync::SyncNews) for the page. Fails with
    /// a sentence for the screen.
    pub async fn open(news: js_sys::Function) -> Result<StoreWorker, JsError> {
        install::<sqlite_wasm_rs::WasmOsCallback>(&OpfsSAHPoolCfg::default(), true)
            .await
            .map_err(|e| JsError::new(&format!("this browser gives no private storage: {e}")))?;
        let store = Store::open(
            Path::new(STORE_FILE),
            Box::new(SystemClock),
            Box::new(OsEntropy),
        )
        .map_err(|e| JsError::new(&format!("cannot open your notes: {e}")))?;
        let service = Rc::new(RefCell::new(Service::new(store)));
        let sync = BrowserSync::start(service.clone(), move |said| {
            let bytes = api::encode(&said);
            let _ = news.call1(&JsValue::NULL, &Uint8Array::from(bytes.as_slice()));
        });
        Ok(StoreWorker { service, sync })
    }

    /// Answers one encoded request; a write is uploaded next.
    pub fn answer(&self, request: &[u8]) -> Answer {
        let answered =
            aftercall_app::backend::answer_encoded(Some(&mut self.service.borrow_mut()), request);
        if answered.wrote {
            self.sync.wrote();
        }
        Answer {
            reply: answered.reply,
            wrote: answered.wrote,
            name: answered.name,
        }
    }

    /// Answers one encoded account request (creating, pairing, the relay, the
    /// phrase): resolves to the encoded `Result<AccountReply, String>`.
    pub fn account(&self, ask: Vec<u8>) -> js_sys::Promise {
        let sync = self.sync.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let reply = match api::decode::<AccountRequest>(&ask) {
                Ok(ask) => sync.account(ask).await,
                Err(e) => Err(e.to_string()),
            };
            Ok(Uint8Array::from(api::encode(&reply).as_slice()).into())
        })
    }

    /// The network is back: sync now.
    pub fn online(&self) {
        self.sync.online();
    }
}
