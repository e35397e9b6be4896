//! One device's websocket session: the socket loop around the protocol's core.
//!
//! [`relay_core::Core`] decides (which message is allowed in which phase, what to
//! answer, what to refuse); this loop reads frames and feeds them to it, carries
//! out the store and hub requests it names and hands their answers back, and sends
//! the frames it is given.

mod relay_core;

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use aftercall_shared::protocol::{
    AccountId, ChunkIndex, ClientMessage, DeviceId, SealedChunk, SealedEntry, ServerMessage,
    FRAME_BUDGET,
};
use axum::extract::ws::{Message, WebSocket};
use tokio::sync::broadcast::error::RecvError;

use crate::state::AppState;
use crate::store::{device_list, CheckpointLimits, StoredCheckpoint};

use relay_core::{Admission, Authentication, CoreLimits, FrameError, Metric, Opening, Request};
pub(crate) use relay_core::{Core, Effect, End};

/// How long a new connection has to say hello, and a device to answer an offer.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a session to its end.
pub(crate) async fn run(mut socket: WebSocket, state: AppState) {
    state.metrics.connections.fetch_add(1, Relaxed);
    let mut core = Core::new(limits(&state));
    let end = match session(&mut socket, &state, &mut core).await {
        Ok(()) => End::Closed,
        Err(end) => end,
    };
    if let Some((code, message)) = core.refusal(end) {
        tracing::info!(code = code.as_str(), %message, "refused");
        state.metrics.refused(code);
        let _ = send(&mut socket, &state, &ServerMessage::refused(code, message)).await;
    }
    let _ = socket.send(Message::Close(None)).await;
    state.metrics.connections.fetch_sub(1, Relaxed);
}

fn limits(state: &AppState) -> CoreLimits {
    let limits = &state.config.limits;
    CoreLimits {
        checkpoint: CheckpointLimits {
            max_bytes: limits.max_checkpoint_bytes,
            interval_secs: limits.checkpoint_interval.as_secs(),
        },
        connections_per_account: limits.connections_per_account,
        entries_per_second: limits.entries_per_second,
        max_message_bytes: limits.max_message_bytes,
    }
}

pub(crate) async fn send(
    socket: &mut WebSocket,
    state: &AppState,
    msg: &ServerMessage,
) -> Result<(), End> {
    let frame = msg.encode();
    state
        .metrics
        .bytes_sent
        .fetch_add(frame.len() as u64, Relaxed);
    state.metrics.frames_sent.fetch_add(1, Relaxed);
    socket
        .send(Message::Binary(frame.into()))
        .await
        .map_err(|_| End::Closed)
}

/// Sends one `Entries` frame the core cut within the frame limit.
async fn send_run(
    socket: &mut WebSocket,
    state: &AppState,
    run: Vec<SealedEntry>,
) -> Result<(), End> {
    state
        .metrics
        .entries_sent
        .fetch_add(run.len() as u64, Relaxed);
    send(socket, state, &ServerMessage::Entries { entries: run }).await
}

/// A session the store counts against its account across nodes; forgotten when the
/// session ends, however it ends.
struct CountedSession {
    store: std::sync::Arc<dyn crate::store::RelayStore>,
    key: crate::store::SessionKey,
}

impl Drop for CountedSession {
    fn drop(&mut self) {
        let (store, key) = (self.store.clone(), self.key);
        // A relay shutting down may have no runtime left: the row then expires.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = store.close_session(key).await {
                    tracing::warn!(error = %e, "a closed session stays counted until it expires");
                }
            });
        }
    }
}

/// Whether the websocket layer refused a frame for its size (over
/// `max_message_size`), by the error's type.
fn is_over_size_limit(e: axum::Error) -> bool {
    use tungstenite::error::CapacityError;
    matches!(
        e.into_inner().downcast::<tungstenite::Error>().map(|e| *e),
        Ok(tungstenite::Error::Capacity(
            CapacityError::MessageTooLong { .. }
        ))
    )
}

/// The next binary frame, checked against the size limit and decoded; a frame
/// that is no message is handed to the core, which says how the session ends.
async fn next_message(
    socket: &mut WebSocket,
    state: &AppState,
    core: &mut Core,
) -> Result<ClientMessage, End> {
    loop {
        let frame = match socket.recv().await {
            None | Some(Ok(Message::Close(_))) => return Err(core.stop()),
            Some(Err(e)) => {
                if is_over_size_limit(e) {
                    return Err(core.frame_error(FrameError::OverSocketLimit));
                }
                return Err(core.stop());
            }
            Some(Ok(Message::Binary(frame))) => frame,
            Some(Ok(Message::Text(_))) => return Err(core.frame_error(FrameError::Text)),
            Some(Ok(_)) => continue, // ping and pong are answered by the websocket layer
        };
        state
            .metrics
            .bytes_received
            .fetch_add(frame.len() as u64, Relaxed);
        state.metrics.frames_received.fetch_add(1, Relaxed);
        if frame.len() > state.config.limits.max_message_bytes {
            let bytes = frame.len();
            return Err(core.frame_error(FrameError::TooLarge { bytes }));
        }
        return ClientMessage::decode(&frame).map_err(|e| core.frame_error(FrameError::Decode(e)));
    }
}

/// The next message, within [`HELLO_TIMEOUT`].
async fn next_in_time(
    socket: &mut WebSocket,
    state: &AppState,
    core: &mut Core,
) -> Result<ClientMessage, End> {
    match tokio::time::timeout(HELLO_TIMEOUT, next_message(socket, state, core)).await {
        Ok(msg) => msg,
        Err(_) => Err(core.timed_out()),
    }
}

/// What a session holds once its device is let in.
struct Session<'a> {
    socket: &'a mut WebSocket,
    state: &'a AppState,
    account: AccountId,
    device: DeviceId,
}

async fn session(socket: &mut WebSocket, state: &AppState, core: &mut Core) -> Result<(), End> {
    let msg = next_in_time(socket, state, core).await?;
    let hello = core.hello(msg)?;
    let account = hello.account;
    let record = state.store.account(&account).await?;
    if core.authenticate(record.as_ref(), &hello)? == Authentication::Create {
        let closed = state.config.closed_registration;
        let outcome = state
            .store
            .create_account(&account, hello.verifier, closed, hello.invite.as_deref())
            .await?;
        core.registration(outcome)?;
    }
    let device = core.device().cloned().ok_or(End::Closed)?;
    if let Opening::Moved(to) = core.opening(record.as_ref())? {
        let registry = state.store.registered_devices(&account).await?;
        let wrapped = match core.moved_device(&registry)? {
            true => state.store.wrapped_secret(&account, &device).await?,
            false => None,
        };
        let answer = core.moved(to, wrapped)?;
        return send(socket, state, &answer).await;
    }
    let registry = state.store.registered_devices(&account).await?;
    if let Admission::Register {
        verifier,
        sealed_name,
    } = core.admission(&registry)?
    {
        let row = state
            .store
            .register_device(&account, &device, verifier, &sealed_name)
            .await?;
        tracing::info!(%account, %device, "device registered");
        core.registered(row.verifier)?;
    }
    let Some((_membership, mut live)) = state.hub.join(account, &state.config.limits) else {
        return Err(core.too_many());
    };
    // Across every node of a deployment on PostgreSQL, too.
    let key = state.session_key();
    let limit = state.config.limits.connections_per_account;
    if state.store.open_session(&account, key, limit).await? == Some(false) {
        return Err(core.too_many());
    }
    let _counted = CountedSession {
        store: state.store.clone(),
        key,
    };

    // What the device has applied holds pruning back, until it is inactive.
    state
        .store
        .acknowledge(&account, &device, &hello.cursors, unix_now())
        .await?;
    prune(state, &account).await?;

    let heads = state.store.heads(&account).await?;
    let own_head = core.admitted(&heads);
    let own_hash = match own_head {
        0 => None,
        seq => state.store.entry_hash(&account, &device, seq).await?,
    };
    let damaged = state.store.damaged(&account, &device).await?;
    let welcome = ServerMessage::Welcome {
        own_head,
        own_hash,
        damaged,
    };
    send(socket, state, &welcome).await?;

    let mut s = Session {
        socket,
        state,
        account,
        device,
    };
    offer_checkpoint(&mut s, core).await?;
    for (other, head) in heads {
        if other != s.device {
            send_log_up_to(&mut s, core, &other, head).await?;
        }
    }
    let caught_up = core.caught_up();
    send(s.socket, state, &caught_up).await?;

    let mut stop = state.stop.clone();
    loop {
        let effects = tokio::select! {
            () = async { let _ = stop.wait_for(|stopping| *stopping).await; } => return Err(core.stop()),
            msg = next_message(s.socket, state, core) => {
                let request = core.message(msg?)?;
                carry_out(&mut s, core, request).await?
            }
            live = live.recv() => match live {
                Ok(live) => core.live(Some(live)),
                // Fell behind: closing makes the device reconnect and catch up.
                Err(RecvError::Lagged(_)) => core.live(None),
                Err(RecvError::Closed) => return Err(core.stop()),
            },
        };
        apply(&mut s, core, effects).await?;
    }
}

/// Carries out what the core asked for against the store and the hub, and hands
/// the answer back; what the core makes of it is returned to be applied.
async fn carry_out(
    s: &mut Session<'_>,
    core: &mut Core,
    request: Request,
) -> Result<Vec<Effect>, End> {
    let state = s.state;
    let account = s.account;
    Ok(match request {
        Request::Nothing => Vec::new(),
        Request::Push(entries) => push(s, core, entries).await?,
        Request::Repair(entries) => {
            repair(state, account, &s.device, entries).await?;
            Vec::new()
        }
        Request::BeginCheckpoint(begun) => {
            let limits = limits(state).checkpoint;
            let id = begun.id;
            let outcome = state
                .store
                .begin_checkpoint(&account, &begun, limits, unix_now())
                .await?;
            core.checkpoint_begun(id, outcome)
        }
        Request::PutChunk(chunk) => {
            let limits = limits(state).checkpoint;
            let id = chunk.checkpoint;
            let stored = state
                .store
                .put_checkpoint_chunk(&account, id, chunk.index, &chunk.sealed, limits)
                .await?;
            core.chunk_stored(id, stored)
        }
        Request::PutRotationChunk { to, chunk } => {
            let limits = limits(state).checkpoint;
            let stored = state
                .store
                .put_checkpoint_chunk(&to, chunk.checkpoint, chunk.index, &chunk.sealed, limits)
                .await?;
            if core.rotation_chunk_stored(stored)? {
                let devices = state.store.rekey_devices(&account).await?;
                core.rotation_devices(devices)
            } else {
                Vec::new()
            }
        }
        Request::SendCheckpoint(checkpoint) => {
            send_checkpoint(s, core, checkpoint).await?;
            Vec::new()
        }
        Request::ListDevices(cursors) => {
            let store = &state.store;
            store
                .acknowledge(&account, &s.device, &cursors, unix_now())
                .await?;
            let devices = device_list(
                &store.registered_devices(&account).await?,
                &store.heads(&account).await?,
                &store.acknowledged(&account).await?,
            );
            vec![Effect::Send(ServerMessage::Devices { devices })]
        }
        Request::RenameDevice {
            device,
            sealed_name,
        } => {
            let done = state
                .store
                .rename_device(&account, &device, &sealed_name)
                .await?;
            core.renamed(device, done)
        }
        Request::RemoveDevice(device) => {
            let done = state.store.remove_device(&account, &device).await?;
            core.removed(device, done)
        }
        Request::BlobHave(blob) => crate::blobs::have(state, core, account, blob).await?,
        Request::BlobPut { bytes, chunk } => {
            crate::blobs::put(state, core, account, bytes, chunk).await?
        }
        Request::BlobGet { blob, from } => {
            crate::blobs::get(s.socket, state, core, account, blob, from).await?
        }
        Request::SetWrapKey(key) => {
            let kept = state.store.set_wrap_key(&account, &s.device, &key).await?;
            core.wrap_key_set(kept)?;
            Vec::new()
        }
        Request::BeginRotation {
            to,
            verifier,
            checkpoint,
        } => {
            let id = checkpoint.id;
            let begun = state
                .store
                .begin_rotation(&account, &to, verifier, &checkpoint)
                .await?;
            core.rotation_begun(to, id, begun)?;
            Vec::new()
        }
        Request::CommitRotation { to, wraps } => {
            let commit = state
                .store
                .commit_rotation(&account, &to, &wraps, unix_now())
                .await?;
            core.rotation_committed(to, commit)
        }
    })
}

/// Does what the core decided, in order.
async fn apply(s: &mut Session<'_>, core: &mut Core, effects: Vec<Effect>) -> Result<(), End> {
    for effect in effects {
        match effect {
            Effect::Send(msg) => send(s.socket, s.state, &msg).await?,
            Effect::Entries(run) => send_run(s.socket, s.state, run).await?,
            Effect::CatchUp { device, head } => send_log_up_to(s, core, &device, head).await?,
            Effect::Prune => prune(s.state, &s.account).await?,
            Effect::Count(metric) => count(s.state, metric),
            Effect::HubRemove(device) => s.state.hub.remove(&s.account, device),
            Effect::HubMoved => s.state.hub.moved(&s.account),
            Effect::End(end) => return Err(end),
        }
    }
    Ok(())
}

/// Adds to the counter the core named.
fn count(state: &AppState, metric: Metric) {
    let metrics = &state.metrics;
    let counter = match metric {
        Metric::Refused(code) => return metrics.refused(code),
        Metric::RotationsBegun => &metrics.rotations_begun,
        Metric::RotationsCommitted => &metrics.rotations_committed,
        Metric::BlobChunksStored => &metrics.blob_chunks_stored,
        Metric::BlobChunksSent => &metrics.blob_chunks_sent,
    };
    counter.fetch_add(1, Relaxed);
}

/// Sends the frames and adds to the counters among `effects` (a blob download's
/// chunk, sent before the next is read).
pub(crate) async fn send_frames(
    socket: &mut WebSocket,
    state: &AppState,
    effects: Vec<Effect>,
) -> Result<(), End> {
    for effect in effects {
        match effect {
            Effect::Send(msg) => send(socket, state, &msg).await?,
            Effect::Count(metric) => count(state, metric),
            Effect::End(end) => return Err(end),
            _ => {
                return Err(End::Failed(crate::RelayError::Task(
                    "a blob download gave an effect it cannot carry out".into(),
                )))
            }
        }
    }
    Ok(())
}

/// Seconds since 1970 (when a device was last seen).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Drops what the account's newest checkpoint covers and every active device has
/// applied.
async fn prune(state: &AppState, account: &AccountId) -> Result<(), End> {
    let window = state.config.limits.inactive_device_after.as_secs() as i64;
    let removed = state
        .store
        .prune(account, unix_now().saturating_sub(window))
        .await?;
    if removed > 0 {
        tracing::info!(%account, removed, "entries pruned");
    }
    Ok(())
}

/// Offers the account's newest checkpoint when the core finds it useful, and
/// waits for the answer: taken, its chunks are sent and the logs go on from what
/// it covers; declined, they are sent from the cursors.
async fn offer_checkpoint(s: &mut Session<'_>, core: &mut Core) -> Result<(), End> {
    let state = s.state;
    let pruned = state.store.pruned(&s.account).await?;
    let Some(required) = core.checkpoint_needed(&pruned)? else {
        return Ok(());
    };
    let newest = state.store.newest_checkpoint(&s.account).await?;
    let Some(offer) = core.offer(newest, required) else {
        return Ok(());
    };
    send(s.socket, state, &offer).await?;
    while matches!(core.phase(), relay_core::Phase::Offering(_)) {
        let answer = next_in_time(s.socket, state, core).await?;
        let request = core.message(answer)?;
        let effects = carry_out(s, core, request).await?;
        apply(s, core, effects).await?;
    }
    Ok(())
}

/// Sends the taken checkpoint's chunks, read from the store one at a time.
async fn send_checkpoint(
    s: &mut Session<'_>,
    core: &mut Core,
    checkpoint: StoredCheckpoint,
) -> Result<(), End> {
    let taken = checkpoint.id;
    for index in (0..checkpoint.chunks).map(ChunkIndex) {
        let Some(sealed) = s
            .state
            .store
            .checkpoint_chunk(&s.account, taken, index)
            .await?
        else {
            // A newer checkpoint replaced it meanwhile: the next session gets that one.
            return Err(core.checkpoint_replaced());
        };
        let chunk = SealedChunk {
            checkpoint: taken,
            index,
            sealed,
        };
        send(s.socket, s.state, &ServerMessage::CheckpointChunk(chunk)).await?;
    }
    core.checkpoint_sent();
    Ok(())
}

/// Sends `other`'s entries after what was sent of it, up to `head`, in pages read
/// from the store; stops early before an entry damaged on disk, which waits for its
/// device's repair.
async fn send_log_up_to(
    s: &mut Session<'_>,
    core: &mut Core,
    other: &DeviceId,
    head: u64,
) -> Result<(), End> {
    while let Some(after) = core.page_from(other, head) {
        if *s.state.stop.borrow() {
            return Err(core.stop());
        }
        let limit = s.state.config.limits.page_entries;
        let page = s
            .state
            .store
            .entries_after(&s.account, other, after, limit, FRAME_BUDGET / 2)
            .await?;
        // Empty: the next entry is damaged, and waits for its device's repair.
        let Some(runs) = core.page_read(other, page) else {
            break;
        };
        for run in runs {
            send_run(s.socket, s.state, run).await?;
        }
    }
    Ok(())
}

/// Appends the device's entries within the account's rate (held back to it, or
/// refused when far over), fans them out, and hands the outcome to the core.
async fn push(
    s: &mut Session<'_>,
    core: &mut Core,
    entries: Vec<SealedEntry>,
) -> Result<Vec<Effect>, End> {
    let state = s.state;
    let account = s.account;
    let Some(appended) = append_within_rate(state, &account, &entries).await? else {
        return Err(core.rate_limited());
    };
    if !appended.stored.is_empty() {
        let bytes: usize = appended.stored.iter().map(|e| e.sealed.len()).sum();
        state
            .metrics
            .entries_stored
            .fetch_add(appended.stored.len() as u64, Relaxed);
        state.metrics.bytes_stored.fetch_add(bytes as u64, Relaxed);
        state
            .hub
            .publish(&account, std::sync::Arc::new(appended.stored));
    }
    Ok(core.appended(appended.head, appended.refused))
}

/// Stores a push within the account's entry rate: in one transaction with taking
/// it from the allowance every node shares, when the store keeps one; otherwise
/// after the node's own count. A push over the rate waits for its turn; `None`:
/// so far over it that it is refused.
async fn append_within_rate(
    state: &AppState,
    account: &AccountId,
    entries: &[SealedEntry],
) -> Result<Option<crate::store::Appended>, End> {
    use crate::store::RatedAppend;
    let limits = &state.config.limits;
    let rate = crate::store::EntryRate {
        per_second: limits.entries_per_second,
        burst: limits.entries_burst,
    };
    let started = std::time::Instant::now();
    let wait = match state.store.append_within(account, entries, rate).await? {
        Some(RatedAppend::Appended(appended)) => {
            state.metrics.append_latency.observe(started.elapsed());
            return Ok(Some(appended));
        }
        Some(RatedAppend::Wait(wait)) => wait,
        Some(RatedAppend::Refused) => return Ok(None),
        None => match state.hub.reserve_entries(account, entries.len(), limits) {
            Some(wait) => wait,
            None => return Ok(None),
        },
    };
    if !wait.is_zero() {
        state.metrics.pushes_throttled.fetch_add(1, Relaxed);
        tokio::time::sleep(wait).await;
    }
    let started = std::time::Instant::now();
    let appended = state.store.append(account, entries).await?;
    state.metrics.append_latency.observe(started.elapsed());
    Ok(Some(appended))
}

/// Stores fresh copies of this device's damaged entries and sends them to the
/// account's other sessions, which were not sent past them.
async fn repair(
    state: &AppState,
    account: AccountId,
    device: &DeviceId,
    entries: Vec<SealedEntry>,
) -> Result<(), End> {
    let repaired = state.store.repair(&account, &entries).await?;
    if let Some(first) = repaired.first() {
        tracing::info!(%account, %device, from = first.seq, count = repaired.len(), "damaged entries repaired");
        let limit = state.config.limits.page_entries;
        let page = state
            .store
            .entries_after(&account, device, first.seq - 1, limit, FRAME_BUDGET / 2)
            .await?;
        state.hub.publish(&account, std::sync::Arc::new(page));
    }
    Ok(())
}
