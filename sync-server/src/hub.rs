//! Per-account rooms: live fan-out to connected devices (entries this node
//! stored or read for other nodes' signals, and heads), connection counts and the
//! entry rate limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aftercall_shared::protocol::{AccountId, DeviceId, SealedEntry};
use tokio::sync::broadcast;

use crate::Limits;

/// What the account's sessions hear live.
#[derive(Debug, Clone)]
pub(crate) enum Live {
    /// Entries this node has just stored (or repaired), or read from the store
    /// for other nodes' signals.
    Entries(Arc<Vec<SealedEntry>>),
    /// The device's log on the relay ends at `head`, as another node signalled or
    /// the periodic catch-up read: a session behind it reads the rest from the store.
    Head { device: DeviceId, head: u64 },
    /// The device was removed from the account: its session ends.
    Removed(DeviceId),
    /// The account moved to a new key in a re-key: every session of it ends.
    Moved,
}

/// How many batches a slow session may fall behind before it is closed (it then
/// reconnects and catches up from the store).
const LIVE_BUFFER: usize = 1024;

/// The longest a push is held back to keep its account under the entry rate
/// before it is refused instead.
pub(crate) const MAX_THROTTLE: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub(crate) struct Hub {
    rooms: Mutex<HashMap<AccountId, Room>>,
}

#[derive(Debug)]
struct Room {
    live: broadcast::Sender<Live>,
    connections: usize,
    tokens: f64,
    refilled: Instant,
}

/// A session's place in its account's room; leaving is dropping it.
#[derive(Debug)]
pub(crate) struct Membership {
    hub: Arc<Hub>,
    account: AccountId,
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut rooms = self.hub.rooms();
        if let Some(room) = rooms.get_mut(&self.account) {
            room.connections -= 1;
            if room.connections == 0 {
                rooms.remove(&self.account);
            }
        }
    }
}

impl Hub {
    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, Room>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins `account`'s room, unless it already has `limits.connections_per_account`.
    pub fn join(
        self: &Arc<Self>,
        account: AccountId,
        limits: &Limits,
    ) -> Option<(Membership, broadcast::Receiver<Live>)> {
        let mut rooms = self.rooms();
        let room = rooms.entry(account).or_insert_with(|| Room {
            live: broadcast::channel(LIVE_BUFFER).0,
            connections: 0,
            tokens: f64::from(limits.entries_burst),
            refilled: Instant::now(),
        });
        if room.connections >= limits.connections_per_account {
            return None;
        }
        room.connections += 1;
        let rx = room.live.subscribe();
        Some((
            Membership {
                hub: self.clone(),
                account,
            },
            rx,
        ))
    }

    /// Takes `n` entries from the account's allowance. `Some(wait)`: store them
    /// after `wait` (zero within the allowance), so a device uploading a backlog is
    /// slowed to the account's rate rather than refused; `None`: the account is so far
    /// over its rate that the wait would be longer than [`MAX_THROTTLE`].
    pub fn reserve_entries(
        &self,
        account: &AccountId,
        n: usize,
        limits: &Limits,
    ) -> Option<Duration> {
        let mut rooms = self.rooms();
        let room = rooms.get_mut(account)?;
        let now = Instant::now();
        let elapsed = now.duration_since(room.refilled).as_secs_f64();
        room.refilled = now;
        let rate = f64::from(limits.entries_per_second.max(1));
        room.tokens = (room.tokens + elapsed * rate).min(f64::from(limits.entries_burst));
        // Reserved when it waits: later pushes queue behind this one.
        let (allowance, left) = crate::store::allowance(
            room.tokens,
            u32::try_from(n).unwrap_or(u32::MAX),
            limits.entries_per_second,
        );
        room.tokens = left;
        match allowance {
            crate::store::Allowance::After(wait) => Some(wait),
            crate::store::Allowance::Refused => None,
        }
    }

    /// Sends newly stored entries to every session of the account.
    pub fn publish(&self, account: &AccountId, entries: Arc<Vec<SealedEntry>>) {
        self.send(account, Live::Entries(entries));
    }

    /// Tells every session of the account that `device`'s log ends at `head`.
    pub fn signal(&self, account: &AccountId, device: DeviceId, head: u64) {
        self.send(account, Live::Head { device, head });
    }

    /// Tells every session of the account that `device` was removed (its own
    /// session then closes).
    pub fn remove(&self, account: &AccountId, device: DeviceId) {
        self.send(account, Live::Removed(device));
    }

    /// Tells every session of the account that it moved in a re-key (they close;
    /// their devices' next hello is told where it went).
    pub fn moved(&self, account: &AccountId) {
        self.send(account, Live::Moved);
    }

    fn send(&self, account: &AccountId, live: Live) {
        if let Some(room) = self.rooms().get(account) {
            let _ = room.live.send(live);
        }
    }

    /// The accounts with a session on this node.
    pub fn accounts(&self) -> Vec<AccountId> {
        self.rooms().keys().copied().collect()
    }
}
