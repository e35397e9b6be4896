//! Sync in the phone web app, beside the store in its worker: [`SessionCore`] over
//! the browser's WebSocket, reconnecting with backoff and at once when the network
//! returns; the account set up, paired and re-pointed from the Sync & devices
//! screen. The secret lives in the store's local settings.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use aftercall_shared::api::Service;
use aftercall_shared::crypto::{AccountSecret, DeviceName};
use aftercall_shared::protocol::{ClientMessage, DeviceId};
use aftercall_shared::sync::DeviceAnswer;
use aftercall_shared::Store;
use anyhow::{bail, Context};
use tokio::sync::mpsc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::account::{relay_url, Account};
use super::core::{MovedAccount, Rehomed, SessionCore, SyncReport};
use super::settings::{PendingRotation, SyncSettings};
use super::status::{stored_status, ConnState, SyncStatus};
use crate::backend::{AccountReply, AccountRequest};
use crate::platform::web::sleep;
use crate::system::OsEntropy;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A relay silent this long while entries are outstanding is treated as gone.
const SILENCE_TIMEOUT_MS: f64 = 45_000.0;
const TICK: Duration = Duration::from_secs(2);
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(60);

/// What sync tells the page.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SyncNews {
    /// The status to show.
    Status(SyncStatus),
    /// Entries from other devices were applied: views ask again.
    Changed,
}

/// What wakes the background task.
#[derive(Debug, Clone, Copy)]
enum Nudge {
    /// The store has new own entries.
    Wrote,
    /// The network is back: retry now.
    Online,
    /// The account or its relay changed: connect afresh.
    Account,
}

/// The sync of the store in this worker. Clones share it.
#[derive(Clone)]
pub struct BrowserSync {
    inner: Rc<Inner>,
}

struct Inner {
    service: Rc<RefCell<Service>>,
    news: Box<dyn Fn(SyncNews)>,
    nudge: mpsc::UnboundedSender<Nudge>,
}

impl Inner {
    fn tell(&self, news: SyncNews) {
        (self.news)(news);
    }
}

impl BrowserSync {
    /// Starts syncing `service`'s store in the background; `news` hears the status
    /// and every change applied.
    pub fn start(service: Rc<RefCell<Service>>, news: impl Fn(SyncNews) + 'static) -> BrowserSync {
        let (nudge, nudges) = mpsc::unbounded_channel();
        let inner = Rc::new(Inner {
            service,
            news: Box::new(news),
            nudge,
        });
        wasm_bindgen_futures::spawn_local(drive(inner.clone(), nudges));
        BrowserSync { inner }
    }

    /// The store wrote: upload now.
    pub fn wrote(&self) {
        let _ = self.inner.nudge.send(Nudge::Wrote);
    }

    /// The network came back: connect now rather than at the next retry.
    pub fn online(&self) {
        let _ = self.inner.nudge.send(Nudge::Online);
    }

    /// Answers what the Sync & devices screen asks about the account.
    pub async fn account(&self, ask: AccountRequest) -> Result<AccountReply, String> {
        let answer = self.answer(ask).await.map_err(|e| format!("{e:#}"));
        let _ = self.inner.nudge.send(Nudge::Account);
        answer
    }

    /// A session until up to date that then sends `request` about the account's
    /// devices; the relay's answer, the account, and this device's id.
    async fn ask_devices(
        &self,
        request: ClientMessage,
    ) -> anyhow::Result<(DeviceAnswer, Account, String)> {
        let service = &self.inner.service;
        let account = load(&service.borrow().store)?.context("this device has no account yet")?;
        let report = run_session(
            service,
            &account,
            false,
            false,
            None,
            None,
            Some(request),
            None,
        )
        .await?;
        let answer = report
            .devices
            .context("the relay did not answer about the devices; try again")?;
        let this = service.borrow().store.device_id().to_string();
        Ok((answer, account, this))
    }

    async fn answer(&self, ask: AccountRequest) -> anyhow::Result<AccountReply> {
        let service = &self.inner.service;
        match ask {
            AccountRequest::Create { relay } => {
                let relay = relay.as_deref().map(relay_url).transpose()?;
                let service = service.borrow();
                let settings = SyncSettings::of(&service.store);
                if settings.secret()?.is_some() {
                    bail!("this device already belongs to an account");
                }
                let secret = AccountSecret::generate(&mut OsEntropy);
                settings.set_secret(&secret)?;
                settings.begin_account(relay.as_deref(), None)?;
                Ok(AccountReply::Created {
                    phrase: secret.phrase(),
                })
            }
            AccountRequest::Pair { relay, phrase } => {
                let secret = AccountSecret::from_phrase(&phrase)?;
                let existing = SyncSettings::of(&service.borrow().store).secret()?;
                if existing.is_some_and(|existing| existing != secret) {
                    bail!("this device already belongs to another account");
                }
                let account = Account {
                    secret,
                    relay: relay_url(&relay)?,
                    create: false,
                    invite: None,
                };
                // The key must open the account's data before anything is uploaded
                // or kept.
                run_session(service, &account, true, true, None, None, None, None).await?;
                let service = service.borrow();
                let settings = SyncSettings::of(&service.store);
                settings.set_secret(&account.secret)?;
                settings.paired(&account.relay)?;
                self.inner.tell(SyncNews::Changed);
                Ok(AccountReply::Paired)
            }
            AccountRequest::SetRelay { relay } => {
                let url = relay_url(&relay)?;
                SyncSettings::of(&service.borrow().store).set_relay(&url)?;
                Ok(AccountReply::RelaySet)
            }
            AccountRequest::Devices => {
                let (answer, account, this) = self
                    .ask_devices(ClientMessage::ListDevices {
                        cursors: Vec::new(),
                    })
                    .await?;
                match answer {
                    DeviceAnswer::Listed(list) => Ok(AccountReply::Devices(super::devices::rows(
                        &account.secret.keys(),
                        &this,
                        list,
                    ))),
                    _ => bail!(
                        "the relay answered something else than the list of devices; try again"
                    ),
                }
            }
            AccountRequest::RenameDevice { id, name } => {
                let name = DeviceName::new(&name)?;
                let device = DeviceId::new(&id)?;
                let account =
                    load(&service.borrow().store)?.context("this device has no account yet")?;
                let request = super::devices::rename_request(&account.secret.keys(), device, &name);
                match self.ask_devices(request).await?.0 {
                    DeviceAnswer::Renamed(d) if d.as_str() == id => {}
                    _ => bail!("the relay did not confirm the new name; try again"),
                }
                let service = service.borrow();
                if service.store.device_id() == id {
                    SyncSettings::of(&service.store).set_device_name(&name)?;
                }
                Ok(AccountReply::DeviceRenamed)
            }
            AccountRequest::RemoveDevice { id } => {
                if service.borrow().store.device_id() == id {
                    return Err(super::devices::RemovingThisDevice.into());
                }
                let request = ClientMessage::RemoveDevice {
                    device: DeviceId::new(&id)?,
                };
                match self.ask_devices(request).await?.0 {
                    DeviceAnswer::Removed(d) if d.as_str() == id => Ok(AccountReply::DeviceRemoved),
                    _ => bail!("the relay did not confirm the removal; try again"),
                }
            }
            AccountRequest::RemoveAndRekey { id } => self.remove_and_rekey(&id).await,
            AccountRequest::RecoveryPhrase => Ok(AccountReply::RecoveryPhrase(
                SyncSettings::of(&service.borrow().store)
                    .secret()?
                    .map(|s| s.phrase()),
            )),
        }
    }
}

impl BrowserSync {
    /// Removes the device `id` and moves the account to a new secret, kept in the
    /// store's settings first so a re-key cut short resumes with it (at the next
    /// sync, or asked again).
    async fn remove_and_rekey(&self, id: &str) -> anyhow::Result<AccountReply> {
        let service = &self.inner.service;
        if service.borrow().store.device_id() == id {
            return Err(super::devices::RemovingThisDevice.into());
        }
        let pending = SyncSettings::of(&service.borrow().store).rotation()?;
        // The new secret is kept before the removal, with the device it removes
        // (never sent the new secret), so a re-key cut short resumes.
        let new = SyncSettings::of(&service.borrow().store)
            .rotation_or_begin(Some(DeviceId::new(id)?))?;
        let request = ClientMessage::RemoveDevice {
            device: DeviceId::new(id)?,
        };
        match self.ask_devices(request).await {
            Ok((DeviceAnswer::Removed(d), _, _)) if d.as_str() == id => {}
            Ok(_) => bail!("the relay did not confirm the removal; try again"),
            // Removed before, by a re-key cut short: resume it. (Not removed yet:
            // the re-key still never sends it the new secret.)
            Err(e) if pending.is_some() => {
                tracing::warn!(error = %format!("{e:#}"), "resuming the re-key begun here");
            }
            Err(e) => return Err(e),
        }
        let account = load(&service.borrow().store)?.context("this device has no account yet")?;
        let left_out = match run_session(
            service,
            &account,
            false,
            false,
            None,
            None,
            None,
            Some(new.clone()),
        )
        .await
        {
            Err(e) if e.is::<MovedAccount>() => {
                let Ok(moved) = e.downcast::<MovedAccount>() else {
                    unreachable!("checked above")
                };
                adopt(&service.borrow().store, &moved.secret)?;
                self.inner.tell(SyncNews::Changed);
                moved.left_out
            }
            Err(e) => return Err(e),
            Ok(_) => bail!("the re-key did not finish; try again to resume it"),
        };
        if load(&service.borrow().store)?.map(|a| a.secret) != Some(new.secret.clone()) {
            bail!("the re-key did not finish; try again to resume it");
        }
        Ok(AccountReply::Rekeyed {
            phrase: new.secret.phrase(),
            left_out: left_out.iter().map(ToString::to_string).collect(),
        })
    }
}

/// Keeps `secret` as the account's from now on (the account moved to it), and
/// forgets a re-key begun here.
fn adopt(store: &Store, secret: &AccountSecret) -> anyhow::Result<()> {
    let settings = SyncSettings::of(store);
    settings.set_secret(secret)?;
    settings.set_rotation(None)?;
    Ok(())
}

/// The account kept in `store`, if there is one.
fn load(store: &Store) -> anyhow::Result<Option<Account>> {
    match SyncSettings::of(store).secret()? {
        Some(secret) => Account::with_secret(secret, store).map(Some),
        None => Ok(None),
    }
}

/// The background task: a session whenever there is an account, again after a
/// failure with a growing wait (at once when the network returns).
async fn drive(inner: Rc<Inner>, mut nudges: mpsc::UnboundedReceiver<Nudge>) {
    let mut retry = FIRST_RETRY;
    let mut last_error = None;
    loop {
        let account = load(&inner.service.borrow().store);
        let account = match account {
            Ok(Some(account)) => account,
            Ok(None) => {
                inner.tell(SyncNews::Status(stored_status(
                    &inner.service.borrow().store,
                    false,
                )));
                // Created or paired: a nudge says so.
                while !matches!(nudges.recv().await, Some(Nudge::Account) | None) {}
                continue;
            }
            Err(e) => {
                let mut status = stored_status(&inner.service.borrow().store, true);
                status.last_error = Some(format!("{e:#}"));
                inner.tell(SyncNews::Status(status));
                while !matches!(nudges.recv().await, Some(Nudge::Account) | None) {}
                continue;
            }
        };
        let mut connecting = stored_status(&inner.service.borrow().store, true);
        connecting.state = ConnState::Connecting;
        connecting.last_error = last_error.clone();
        inner.tell(SyncNews::Status(connecting));

        let mut reached_live = false;
        // A re-key begun here and cut short resumes.
        let rotation = super::account::pending_rotation(&inner.service.borrow().store, &account)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %format!("{e:#}"), "cannot read the re-key begun here");
                None
            });
        let result = run_session(
            &inner.service,
            &account,
            false,
            false,
            Some(&mut nudges),
            Some((&inner, &mut reached_live)),
            None,
            rotation,
        )
        .await;
        if reached_live {
            retry = FIRST_RETRY;
        }
        match result {
            Ok(_) => {
                // The account changed under the session: connect afresh.
                last_error = None;
                continue;
            }
            Err(e) if e.is::<Rehomed>() => {
                tracing::warn!(error = %e, "sync continues as a new device");
                continue;
            }
            // The account moved to a new key: keep it, and connect again at once.
            Err(e) if e.is::<MovedAccount>() => {
                let Ok(moved) = e.downcast::<MovedAccount>() else {
                    unreachable!("checked above")
                };
                match adopt(&inner.service.borrow().store, &moved.secret) {
                    Ok(()) => {
                        tracing::info!("the account moved to a new key; syncing with it");
                        inner.tell(SyncNews::Changed);
                        continue;
                    }
                    Err(e) => last_error = Some(format!("{e:#}")),
                }
            }
            // Removed from the account (or re-keyed without this device): the
            // relay refuses it every time, so it waits for a new account (paired
            // again) instead of retrying.
            Err(e)
                if e.downcast_ref::<aftercall_shared::sync::SyncError>()
                    .is_some_and(|e| e.is_device_removed() || e.is_account_rekeyed()) =>
            {
                let rekeyed = e
                    .downcast_ref::<aftercall_shared::sync::SyncError>()
                    .is_some_and(|e| e.is_account_rekeyed());
                let mut removed = stored_status(&inner.service.borrow().store, true);
                removed.state = if rekeyed {
                    ConnState::Rekeyed
                } else {
                    ConnState::Removed
                };
                removed.last_error = Some(format!("{e:#}"));
                inner.tell(SyncNews::Status(removed));
                while !matches!(nudges.recv().await, Some(Nudge::Account) | None) {}
                continue;
            }
            Err(e) => last_error = Some(format!("{e:#}")),
        }
        let mut offline = stored_status(&inner.service.borrow().store, true);
        offline.last_error = last_error.clone();
        inner.tell(SyncNews::Status(offline.clone()));
        // Wait out the retry, keeping the pending count fresh; the network coming
        // back or a new account ends the wait.
        let deadline = js_sys::Date::now() + retry.as_secs_f64() * 1000.0;
        loop {
            let left = deadline - js_sys::Date::now();
            if left <= 0.0 {
                break;
            }
            let nudge = tokio::select! {
                n = nudges.recv() => n,
                () = sleep(Duration::from_millis(left as u64)) => break,
            };
            match nudge {
                Some(Nudge::Online) => {
                    retry = FIRST_RETRY;
                    break;
                }
                Some(Nudge::Account) | None => break,
                Some(Nudge::Wrote) => {
                    let fresh = stored_status(&inner.service.borrow().store, true);
                    offline.pending_upload = fresh.pending_upload;
                    inner.tell(SyncNews::Status(offline.clone()));
                }
            }
        }
        retry = (retry * 2).min(LONGEST_RETRY);
    }
}

/// Runs one session with the relay: until up to date when `until_up_to_date`
/// (pairing), else until the account changes or the connection fails. `live`
/// hears the status and changes, and learns whether the session caught up.
async fn run_session(
    service: &Rc<RefCell<Service>>,
    account: &Account,
    must_prove_key: bool,
    until_up_to_date: bool,
    mut nudges: Option<&mut mpsc::UnboundedReceiver<Nudge>>,
    mut live: Option<(&Inner, &mut bool)>,
    device_request: Option<ClientMessage>,
    rotation: Option<PendingRotation>,
) -> anyhow::Result<SyncReport> {
    let mut core = SessionCore::connected(&service.borrow().store, account, must_prove_key)?;
    let asking = device_request.is_some();
    if let Some(request) = device_request {
        core.ask_devices(request);
    }
    if let Some(new) = rotation {
        core.ask_rotation(&service.borrow().store, new)?;
    }
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let socket = Socket::open(&account.relay, events_tx)?;
    tokio::select! {
        opened = events.recv() => match opened {
            Some(SocketEvent::Open) => {}
            Some(SocketEvent::Closed(why)) => bail!("cannot reach the relay at {}: {why}", account.relay),
            _ => bail!("cannot reach the relay at {}", account.relay),
        },
        () = sleep(CONNECT_TIMEOUT) => bail!("the relay at {} did not answer within 10 seconds", account.relay),
    }
    let mut outbox = Vec::new();
    let mut last_heard = js_sys::Date::now();
    loop {
        let round = core.run(&mut service.borrow_mut().store, &mut outbox)?;
        for frame in outbox.drain(..) {
            socket.send(&frame)?;
        }
        if let Some((inner, reached_live)) = live.as_mut() {
            **reached_live |= core.reached_live;
            if round.applied > 0 {
                inner.tell(SyncNews::Changed);
            }
            inner.tell(SyncNews::Status(round.status));
        }
        if (round.up_to_date && until_up_to_date) || (asking && core.report().devices.is_some()) {
            return Ok(core.report());
        }
        let nudge = async {
            match nudges.as_deref_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = events.recv() => match event {
                Some(SocketEvent::Frame(frame)) => {
                    last_heard = js_sys::Date::now();
                    core.frame(frame);
                }
                Some(SocketEvent::Open) => {}
                Some(SocketEvent::Closed(why)) => bail!("the connection to the relay broke: {why}"),
                None => bail!("the connection to the relay broke"),
            },
            nudge = nudge => match nudge {
                Some(Nudge::Wrote) => {
                    core.notice_writes(&service.borrow().store)?;
                    core.notice_blobs();
                }
                Some(Nudge::Online) => {}
                Some(Nudge::Account) | None => return Ok(core.report()),
            },
            () = sleep(TICK) => {
                core.notice_blobs();
                if !round.up_to_date && js_sys::Date::now() - last_heard > SILENCE_TIMEOUT_MS {
                    bail!("the relay stopped answering");
                }
            }
        }
    }
}

/// What the socket reports.
enum SocketEvent {
    Open,
    Frame(Vec<u8>),
    Closed(String),
}

/// A browser WebSocket whose events arrive on a channel; closed when dropped.
struct Socket {
    ws: web_sys::WebSocket,
    _handlers: [Closure<dyn FnMut(JsValue)>; 4],
}

impl Socket {
    fn open(url: &str, events: mpsc::UnboundedSender<SocketEvent>) -> anyhow::Result<Socket> {
        let ws = web_sys::WebSocket::new(url)
            .map_err(|e| anyhow::anyhow!("cannot open a connection to {url}: {e:?}"))?;
        ws.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let handler = |f: Box<dyn FnMut(JsValue)>| Closure::wrap(f);
        let on_open = handler(Box::new({
            let events = events.clone();
            move |_| {
                let _ = events.send(SocketEvent::Open);
            }
        }));
        let on_message = handler(Box::new({
            let events = events.clone();
            move |event: JsValue| {
                let data = event.unchecked_into::<web_sys::MessageEvent>().data();
                if let Ok(buffer) = data.dyn_into::<js_sys::ArrayBuffer>() {
                    let _ = events.send(SocketEvent::Frame(
                        js_sys::Uint8Array::new(&buffer).to_vec(),
                    ));
                }
            }
        }));
        let on_close = handler(Box::new({
            let events = events.clone();
            move |event: JsValue| {
                let event = event.unchecked_into::<web_sys::CloseEvent>();
                // 1000 and 1005: closed on purpose without a reason; 1006: lost.
                let why = match (event.reason(), event.code()) {
                    (r, _) if !r.is_empty() => r,
                    (_, 1000 | 1005) => "the relay closed it".into(),
                    (_, 1006) => "the connection was lost".into(),
                    (_, code) => format!("closed with code {code}"),
                };
                let _ = events.send(SocketEvent::Closed(why));
            }
        }));
        let on_error = handler(Box::new(move |_| {
            let _ = events.send(SocketEvent::Closed("the connection failed".into()));
        }));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            _handlers: [on_open, on_message, on_close, on_error],
        })
    }

    fn send(&self, frame: &[u8]) -> anyhow::Result<()> {
        self.ws
            .send_with_u8_array(frame)
            .map_err(|e| anyhow::anyhow!("{e:?}"))
            .context("the connection to the relay broke")
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}
