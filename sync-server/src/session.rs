//! One device's websocket session: hello, catch-up, uploads and live push.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use aftercall_shared::protocol::{
    frame_runs, AccountId, CheckpointId, ChunkIndex, ClientMessage, Cursor, DeviceId, DeviceKey,
    ProtocolError, RefusalCode, SealedChunk, SealedEntry, ServerMessage, FRAME_BUDGET, MAX_FRAME,
};
use axum::extract::ws::{Message, WebSocket};
use tokio::sync::broadcast::error::RecvError;

use crate::hub::Live;
use crate::state::AppState;
use crate::store::{device_list, AppendRefusal, ChunkStored, Registration, StoredCheckpoint};
use crate::RelayError;

/// How long a new connection has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a session ends.
pub(crate) enum End {
    /// The device closed the connection, or the relay is shutting down.
    Closed,
    /// The relay refused something; the device is told why.
    Refused(RefusalCode, String),
    /// The relay failed.
    Failed(RelayError),
}

impl From<RelayError> for End {
    fn from(e: RelayError) -> Self {
        End::Failed(e)
    }
}

fn refuse<T>(code: RefusalCode, message: impl Into<String>) -> Result<T, End> {
    Err(End::Refused(code, message.into()))
}

/// Runs a session to its end.
pub(crate) async fn run(mut socket: WebSocket, state: AppState) {
    state.metrics.connections.fetch_add(1, Relaxed);
    let end = session(&mut socket, &state).await;
    let refusal = match end {
        Ok(()) | Err(End::Closed) => None,
        Err(End::Refused(code, message)) => Some((code, message)),
        Err(End::Failed(e)) => {
            tracing::error!(error = %e, "session failed");
            Some((
                RefusalCode::Unavailable,
                "the relay failed; try again later".to_string(),
            ))
        }
    };
    if let Some((code, message)) = refusal {
        tracing::info!(code = code.as_str(), %message, "refused");
        state.metrics.refused(code);
        let _ = send(&mut socket, &state, &ServerMessage::refused(code, message)).await;
    }
    let _ = socket.send(Message::Close(None)).await;
    state.metrics.connections.fetch_sub(1, Relaxed);
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

/// Sends `entries` in as many `Entries` frames as their size needs: each within the
/// frame limit every device reads.
async fn send_entries(
    socket: &mut WebSocket,
    state: &AppState,
    entries: Vec<SealedEntry>,
) -> Result<(), End> {
    for run in frame_runs(entries, MAX_FRAME) {
        state
            .metrics
            .entries_sent
            .fetch_add(run.len() as u64, Relaxed);
        send(socket, state, &ServerMessage::Entries { entries: run }).await?;
    }
    Ok(())
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

/// The next binary frame, checked against the size limit and decoded.
async fn next_message(socket: &mut WebSocket, state: &AppState) -> Result<ClientMessage, End> {
    loop {
        let frame = match socket.recv().await {
            None | Some(Ok(Message::Close(_))) => return Err(End::Closed),
            Some(Err(e)) => {
                if is_over_size_limit(e) {
                    return refuse(
                        RefusalCode::TooLarge,
                        "the message is over the relay's size limit; send smaller batches",
                    );
                }
                return Err(End::Closed);
            }
            Some(Ok(Message::Binary(frame))) => frame,
            Some(Ok(Message::Text(_))) => {
                return refuse(
                    RefusalCode::BadMessage,
                    "text frames are not part of the protocol",
                );
            }
            Some(Ok(_)) => continue, // ping and pong are answered by the websocket layer
        };
        state
            .metrics
            .bytes_received
            .fetch_add(frame.len() as u64, Relaxed);
        state.metrics.frames_received.fetch_add(1, Relaxed);
        if frame.len() > state.config.limits.max_message_bytes {
            return refuse(
                RefusalCode::TooLarge,
                format!(
                    "the message is {} bytes, over the relay's limit of {}; send smaller batches",
                    frame.len(),
                    state.config.limits.max_message_bytes
                ),
            );
        }
        return ClientMessage::decode(&frame).or_else(|e| match e {
            ProtocolError::UnsupportedVersion(v) => refuse(
                RefusalCode::UnsupportedVersion,
                format!("protocol version {v} is not supported by this relay; update the app or the relay"),
            ),
            e => refuse(RefusalCode::BadMessage, e.to_string()),
        });
    }
}

async fn session(socket: &mut WebSocket, state: &AppState) -> Result<(), End> {
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, next_message(socket, state)).await {
        Ok(msg) => msg?,
        Err(_) => return refuse(RefusalCode::BadMessage, "no hello within 10 seconds"),
    };
    let ClientMessage::Hello {
        account,
        credential,
        device,
        create,
        invite,
        cursors,
        device_key,
    } = hello
    else {
        return refuse(RefusalCode::BadMessage, "a session starts with hello");
    };
    tracing::debug!(%account, %device, "hello");
    authenticate(state, account, credential.verifier(), create, invite).await?;
    admit_device(state, account, &device, device_key.as_ref()).await?;
    let too_many = || {
        refuse(
            RefusalCode::TooManyConnections,
            format!(
                "this account already has {} devices connected; close one and retry",
                state.config.limits.connections_per_account
            ),
        )
    };
    let Some((_membership, mut live)) = state.hub.join(account, &state.config.limits) else {
        return too_many();
    };
    // Across every node of a deployment on PostgreSQL, too.
    let key = state.session_key();
    let limit = state.config.limits.connections_per_account;
    if state.store.open_session(&account, key, limit).await? == Some(false) {
        return too_many();
    }
    let _counted = CountedSession {
        store: state.store.clone(),
        key,
    };

    // What the device has applied holds pruning back, until it is inactive.
    state
        .store
        .acknowledge(&account, &device, &cursors, unix_now())
        .await?;
    prune(state, &account).await?;

    let heads = state.store.heads(&account).await?;
    let own_head = heads
        .iter()
        .find(|(d, _)| *d == device)
        .map_or(0, |(_, h)| *h);
    let own_hash = match own_head {
        0 => None,
        seq => state.store.entry_hash(&account, &device, seq).await?,
    };
    let damaged = state.store.damaged(&account, &device).await?;
    send(
        socket,
        state,
        &ServerMessage::Welcome {
            own_head,
            own_hash,
            damaged,
        },
    )
    .await?;

    // How far each other device's log has been sent to this one.
    let mut sent: HashMap<DeviceId, u64> = cursors.into_iter().map(|c| (c.device, c.seq)).collect();
    offer_checkpoint(socket, state, account, &device, &mut sent).await?;
    for (other, head) in heads {
        if other != device {
            send_log_up_to(socket, state, account, &other, head, &mut sent).await?;
        }
    }
    send(socket, state, &ServerMessage::CaughtUp).await?;

    let mut stop = state.stop.clone();
    // The checkpoint this device is uploading, until every chunk is stored.
    let mut uploading: Option<CheckpointId> = None;
    loop {
        tokio::select! {
            () = async { let _ = stop.wait_for(|stopping| *stopping).await; } => return Err(End::Closed),
            msg = next_message(socket, state) => match msg? {
                ClientMessage::Push { entries } => push(socket, state, account, &device, entries).await?,
                ClientMessage::Repair { entries } => repair(state, account, &device, entries).await?,
                ClientMessage::Hello { .. } => return refuse(RefusalCode::BadMessage, "hello was already said"),
                ClientMessage::CheckpointBegin { checkpoint, chunks, covers } => {
                    if chunks == 0 {
                        return refuse(RefusalCode::BadMessage, "a checkpoint has at least one chunk");
                    }
                    let begun = StoredCheckpoint { id: checkpoint, chunks, covers };
                    state.store.begin_checkpoint(&account, &begun).await?;
                    uploading = Some(checkpoint);
                }
                ClientMessage::CheckpointChunk(chunk) => {
                    let id = chunk.checkpoint;
                    match state.store.put_checkpoint_chunk(&account, id, chunk.index, &chunk.sealed).await? {
                        ChunkStored::Waiting => {}
                        ChunkStored::Complete if uploading == Some(id) => {
                            uploading = None;
                            tracing::info!(%account, %device, checkpoint = %id, "checkpoint stored");
                            send(socket, state, &ServerMessage::CheckpointStored { checkpoint: id }).await?;
                            prune(state, &account).await?;
                        }
                        // A chunk of a checkpoint stored already: nothing to add.
                        ChunkStored::Complete => {}
                        ChunkStored::Unknown => return refuse(
                            RefusalCode::BadMessage,
                            "a checkpoint chunk of no upload begun, or past its count",
                        ),
                    }
                }
                ClientMessage::TakeCheckpoint { .. } => return refuse(RefusalCode::BadMessage, "no checkpoint was offered"),
                ClientMessage::ListDevices { cursors } => {
                    state.store.acknowledge(&account, &device, &cursors, unix_now()).await?;
                    let devices = device_list(
                        &state.store.registered_devices(&account).await?,
                        &state.store.heads(&account).await?,
                        &state.store.acknowledged(&account).await?,
                    );
                    send(socket, state, &ServerMessage::Devices { devices }).await?;
                }
                ClientMessage::RenameDevice { device: named, sealed_name } => {
                    if !state.store.rename_device(&account, &named, &sealed_name).await? {
                        return refuse(RefusalCode::UnknownDevice, format!("this account has no device {named}"));
                    }
                    send(socket, state, &ServerMessage::DeviceRenamed { device: named }).await?;
                }
                ClientMessage::RemoveDevice { device: removed } => {
                    if !state.store.remove_device(&account, &removed).await? {
                        return refuse(RefusalCode::UnknownDevice, format!("this account has no device {removed} (or it was removed already)"));
                    }
                    tracing::info!(%account, by = %device, %removed, "device removed");
                    state.hub.remove(&account, removed.clone());
                    send(socket, state, &ServerMessage::DeviceRemoved { device: removed }).await?;
                }
                ClientMessage::BlobHave { blob } => crate::blobs::have(socket, state, account, blob).await?,
                ClientMessage::BlobPut { bytes, chunk } => crate::blobs::put(socket, state, account, bytes, chunk).await?,
                ClientMessage::BlobGet { blob, from } => crate::blobs::get(socket, state, account, blob, from).await?,
            },
            live = live.recv() => match live {
                Ok(Live::Entries(batch)) => {
                    // Entries that continue what was sent go as they are; past a
                    // gap (another node stored the ones between), from the store.
                    let mut next = Vec::new();
                    let mut behind = Vec::new();
                    for e in batch.iter().filter(|e| e.device != device) {
                        let at = sent.entry(e.device.clone()).or_insert(0);
                        if e.seq == *at + 1 {
                            *at = e.seq;
                            next.push(e.clone());
                        } else if e.seq > *at + 1 {
                            behind.push((e.device.clone(), e.seq));
                        }
                    }
                    send_entries(socket, state, next).await?;
                    for (other, head) in behind {
                        send_log_up_to(socket, state, account, &other, head, &mut sent).await?;
                    }
                }
                Ok(Live::Removed(removed)) if removed == device => return refuse(
                    RefusalCode::DeviceRemoved,
                    "this device was removed from the account on another device and no longer syncs; to sync here again, pair a fresh data folder with the recovery phrase",
                ),
                Ok(Live::Removed(_)) => {}
                Ok(Live::Head { device: other, head }) => {
                    if other != device {
                        send_log_up_to(socket, state, account, &other, head, &mut sent).await?;
                    }
                }
                // Fell behind: closing makes the device reconnect and catch up.
                Err(RecvError::Lagged(_)) => return Err(End::Closed),
                Err(RecvError::Closed) => return Err(End::Closed),
            },
        }
    }
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

/// Offers the account's newest checkpoint to a device with no cursors (a new one)
/// or one whose cursors point into a pruned part of a log, when the checkpoint
/// holds something it lacks. Taken, its chunks are sent and `sent` moves to what
/// it covers; declined, the log is sent from the cursors.
async fn offer_checkpoint(
    socket: &mut WebSocket,
    state: &AppState,
    account: AccountId,
    device: &DeviceId,
    sent: &mut HashMap<DeviceId, u64>,
) -> Result<(), End> {
    let Some(checkpoint) = state.store.newest_checkpoint(&account).await? else {
        return Ok(());
    };
    let at = |d: &DeviceId, sent: &HashMap<DeviceId, u64>| sent.get(d).copied().unwrap_or(0);
    let pruned = state.store.pruned(&account).await?;
    let required = pruned.iter().any(|(d, p)| d != device && at(d, sent) < *p);
    let useful = checkpoint
        .covers
        .iter()
        .any(|c| c.device != *device && c.seq > at(&c.device, sent));
    if !useful || !(sent.is_empty() || required) {
        return Ok(());
    }
    let offer = ServerMessage::CheckpointOffer {
        checkpoint: checkpoint.id,
        chunks: checkpoint.chunks,
        covers: checkpoint.covers.clone(),
        required,
    };
    send(socket, state, &offer).await?;
    // The device may push its own entries before it reads the offer.
    let taken = loop {
        let answer = match tokio::time::timeout(HELLO_TIMEOUT, next_message(socket, state)).await {
            Ok(msg) => msg?,
            Err(_) => {
                return refuse(
                    RefusalCode::BadMessage,
                    "no answer to the checkpoint offer within 10 seconds",
                )
            }
        };
        match answer {
            ClientMessage::TakeCheckpoint { checkpoint: None } => return Ok(()),
            ClientMessage::TakeCheckpoint {
                checkpoint: Some(id),
            } if id == checkpoint.id => break id,
            ClientMessage::Push { entries } => {
                push(socket, state, account, device, entries).await?
            }
            ClientMessage::Repair { entries } => repair(state, account, device, entries).await?,
            _ => {
                return refuse(
                    RefusalCode::BadMessage,
                    "the checkpoint offer waits for its answer",
                )
            }
        }
    };
    for index in (0..checkpoint.chunks).map(ChunkIndex) {
        let Some(sealed) = state.store.checkpoint_chunk(&account, taken, index).await? else {
            // A newer checkpoint replaced it meanwhile: the next session gets that one.
            return refuse(
                RefusalCode::Unavailable,
                "the checkpoint was replaced while it was sent; sync again",
            );
        };
        let chunk = SealedChunk {
            checkpoint: taken,
            index,
            sealed,
        };
        send(socket, state, &ServerMessage::CheckpointChunk(chunk)).await?;
    }
    for Cursor { device: other, seq } in checkpoint.covers {
        if other != *device {
            let at = sent.entry(other).or_insert(0);
            *at = (*at).max(seq);
        }
    }
    Ok(())
}

/// Sends `other`'s entries after what was sent of it, up to `head`, in pages read
/// from the store; stops early before an entry damaged on disk, which waits for its
/// device's repair.
async fn send_log_up_to(
    socket: &mut WebSocket,
    state: &AppState,
    account: AccountId,
    other: &DeviceId,
    head: u64,
    sent: &mut HashMap<DeviceId, u64>,
) -> Result<(), End> {
    let mut after = sent.get(other).copied().unwrap_or(0);
    while head > after {
        if *state.stop.borrow() {
            return Err(End::Closed);
        }
        let limit = state.config.limits.page_entries;
        let page = state
            .store
            .entries_after(&account, other, after, limit, FRAME_BUDGET / 2)
            .await?;
        // Empty: the next entry is damaged, and waits for its device's repair.
        let Some(last) = page.last() else { break };
        after = last.seq;
        send_entries(socket, state, page).await?;
    }
    sent.insert(other.clone(), after);
    Ok(())
}

async fn authenticate(
    state: &AppState,
    account: AccountId,
    verifier: [u8; 32],
    create: bool,
    invite: Option<String>,
) -> Result<(), End> {
    let stored = state.store.verifier(&account).await?;
    match stored {
        // blake3::Hash compares in constant time.
        Some(v) if blake3::Hash::from(v) == blake3::Hash::from(verifier) => Ok(()),
        Some(_) => refuse(
            RefusalCode::Unauthorized,
            "the credential does not match this account; pair the device again with the recovery phrase",
        ),
        None if !create => refuse(
            RefusalCode::UnknownAccount,
            "the relay has no account for this recovery phrase; check the phrase, or let the first device sync once",
        ),
        None => {
            let closed = state.config.closed_registration;
            let outcome = state
                .store
                .create_account(&account, verifier, closed, invite.as_deref())
                .await?;
            match outcome {
                Registration::Created => {
                    tracing::info!(%account, "account created");
                    Ok(())
                }
                Registration::InviteRequired => refuse(
                    RefusalCode::RegistrationClosed,
                    "registration on this relay is closed; ask its operator for an invite code (sync-server invite)",
                ),
            }
        }
    }
}

/// Lets `device` in on its own credential. A device not yet registered registers
/// the credential and sealed name its hello carries; a registered one must show
/// that credential; a removed one is refused for good. A hello without a device
/// credential (an older version) is let in only while no device of the account
/// has registered one.
async fn admit_device(
    state: &AppState,
    account: AccountId,
    device: &DeviceId,
    key: Option<&DeviceKey>,
) -> Result<(), End> {
    let registry = state.store.registered_devices(&account).await?;
    let known = registry.iter().find(|r| r.device == *device);
    if known.is_some_and(|r| r.removed) {
        return refuse(
            RefusalCode::DeviceRemoved,
            "this device was removed from the account and no longer syncs; to sync here again, pair a fresh data folder with the recovery phrase",
        );
    }
    let Some(key) = key else {
        if registry.iter().any(|r| r.verifier.is_some()) {
            return refuse(
                RefusalCode::Unauthorized,
                "this account's devices sign in with credentials of their own; update the app on this device",
            );
        }
        return Ok(());
    };
    let verifier = key.credential.verifier();
    let registered = match known.and_then(|r| r.verifier) {
        Some(v) => v,
        None => {
            let row = state
                .store
                .register_device(&account, device, verifier, &key.sealed_name)
                .await?;
            tracing::info!(%account, %device, "device registered");
            match row.verifier {
                Some(v) => v,
                None => {
                    return Err(End::Failed(RelayError::Task(
                        "a device registered without its credential".into(),
                    )))
                }
            }
        }
    };
    // blake3::Hash compares in constant time.
    if blake3::Hash::from(registered) != blake3::Hash::from(verifier) {
        return refuse(
            RefusalCode::Unauthorized,
            "this device's own credential does not match the one it registered; pair the device again with the recovery phrase",
        );
    }
    Ok(())
}

async fn push(
    socket: &mut WebSocket,
    state: &AppState,
    account: AccountId,
    device: &DeviceId,
    entries: Vec<SealedEntry>,
) -> Result<(), End> {
    if entries.is_empty() {
        return Ok(());
    }
    if entries.iter().any(|e| e.device != *device) {
        return refuse(
            RefusalCode::BadMessage,
            "a device may only upload its own log",
        );
    }
    let Some(appended) = append_within_rate(state, &account, &entries).await? else {
        let per_second = state.config.limits.entries_per_second;
        return refuse(
            RefusalCode::RateLimited,
            format!("over {per_second} entries per second for this account; retry shortly"),
        );
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
    send(
        socket,
        state,
        &ServerMessage::Stored {
            up_to: appended.head,
        },
    )
    .await?;
    match appended.refused {
        None => Ok(()),
        Some(AppendRefusal::Gap { seq, head }) => refuse(
            RefusalCode::Gap,
            format!("entry {seq} leaves a gap: the relay has this device's log up to {head}"),
        ),
        Some(AppendRefusal::Conflict { seq }) => refuse(
            RefusalCode::Conflict,
            format!("a different entry {seq} of this device is already stored; the device's data was copied or restored — pair it again as a new device"),
        ),
    }
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
    if entries.iter().any(|e| e.device != *device) {
        return refuse(
            RefusalCode::BadMessage,
            "a device may only repair its own log",
        );
    }
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
