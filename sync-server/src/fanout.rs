//! Live fan-out between relay nodes on one PostgreSQL database.
//!
//! An append that stored entries sends `NOTIFY aftercall_entries` with the account,
//! the device and its new head inside its transaction, so the signal goes out only
//! if the commit does; it never carries an entry. Each node listens on a connection
//! of its own, takes every signal waiting at once, reads the entries they announce
//! in one query for the whole node, and hands them to the accounts' sessions on this
//! node through the hub. A session further behind reads what it lacks from the
//! tables itself, as do the sessions of a log that could not be read whole here
//! (past the byte budget, or damaged), which are signalled its head instead.
//! A node ignores the signals of its own appends (their `origin` is its store's):
//! its sessions handed those entries to the hub already. A signal can be lost (the
//! listening connection drops, the node was busy reconnecting), so every
//! [`CATCH_UP_EVERY`], and at once after each reconnect, the node signals the heads
//! of every account with a session here, read from the tables. A device removed
//! on one node is signalled the same way (`ACCOUNT DEVICE removed`, and the
//! periodic read of the registry), so its session on any node ends; so is an
//! account moved by a re-key (`ACCOUNT moved`, and the periodic read of the
//! account), so every session of it on any node ends.
//!
//! `LISTEN`/`NOTIFY` is the one part of the relay's SQL that Postgres-compatible
//! distributed engines lack: there this signal would come from their changefeed on
//! `devices`, or from the periodic catch-up alone (polling).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use aftercall_shared::protocol::{AccountId, DeviceId, SealedEntry};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_postgres::AsyncMessage;

use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::{LogRange, RelayStore};

/// The channel appends notify on.
pub(crate) const CHANNEL: &str = "aftercall_entries";

/// How often each node reads the heads of its accounts, in case a signal was lost.
pub(crate) const CATCH_UP_EVERY: Duration = Duration::from_secs(10);

/// The longest wait between attempts to listen again.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What a notification says about a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Its log on the relay now ends at `head`; the appending node sent this at
    /// `sent_ms` (milliseconds since the epoch by its clock), and its store is
    /// `origin` ([`RelayStore::signal_origin`]); both absent from nodes that predate
    /// them.
    Head {
        head: u64,
        sent_ms: Option<u64>,
        origin: Option<u64>,
    },
    /// It was removed from its account: its sessions end.
    Removed,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The payload of a removal: `ACCOUNT-HEX DEVICE removed`.
pub(crate) fn removed_payload(account: &AccountId, device: &DeviceId) -> String {
    format!("{} {} removed", account.to_hex(), device.as_str())
}

/// The payload of a re-key's commit: `ACCOUNT-HEX moved`.
pub(crate) fn moved_payload(account: &AccountId) -> String {
    format!("{} moved", account.to_hex())
}

/// Reads a re-key's payload; `None` for anything else.
fn parse_moved(payload: &str) -> Option<AccountId> {
    let hex = payload.strip_suffix(" moved")?;
    account_of_hex(hex)
}

/// An account id from its 32 hex digits.
fn account_of_hex(hex: &str) -> Option<AccountId> {
    if hex.len() != 32 {
        return None;
    }
    let mut account = [0u8; 16];
    for (i, byte) in account.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(AccountId(account))
}

/// A notification's payload: `ACCOUNT-HEX DEVICE HEAD SENT-MS ORIGIN-HEX`, sent by
/// the store `origin`.
pub(crate) fn payload(account: &AccountId, device: &DeviceId, head: u64, origin: u64) -> String {
    format!(
        "{} {} {head} {} {origin:016x}",
        account.to_hex(),
        device.as_str(),
        now_ms()
    )
}

/// Reads a payload; `None` for anything malformed.
fn parse(payload: &str) -> Option<(AccountId, DeviceId, Signal)> {
    let mut parts = payload.split(' ');
    let hex = parts.next()?;
    let device = DeviceId::new(parts.next()?).ok()?;
    let head = match parts.next()? {
        "removed" => Signal::Removed,
        head => Signal::Head {
            head: head.parse().ok()?,
            sent_ms: match parts.next() {
                Some(ms) => Some(ms.parse().ok()?),
                None => None,
            },
            origin: match parts.next() {
                Some(hex) if hex.len() == 16 => Some(u64::from_str_radix(hex, 16).ok()?),
                Some(_) => return None,
                None => None,
            },
        },
    };
    if parts.next().is_some() {
        return None;
    }
    Some((account_of_hex(hex)?, device, head))
}

/// Listens for other nodes' appends until `stop`, reconnecting as needed; at each
/// catch-up read, also marks this node's (`node`) sessions alive in the session
/// count the nodes share.
pub(crate) async fn run(
    config: tokio_postgres::Config,
    store: Arc<dyn RelayStore>,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    node: u64,
    mut stop: watch::Receiver<bool>,
) {
    let own = store.signal_origin();
    let mut backoff = Duration::from_millis(100);
    loop {
        let listening = tokio::select! {
            () = stopped(&mut stop) => return,
            listening = listen(&config) => listening,
        };
        let (client, mut signals) = match listening {
            Ok(listening) => {
                backoff = Duration::from_millis(100);
                listening
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other relay nodes' entries; retrying");
                tokio::select! {
                    () = stopped(&mut stop) => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        metrics.listener_connects.fetch_add(1, Relaxed);
        // Whatever was signalled while not listening.
        catch_up(store.as_ref(), &hub).await;
        let mut tick = tokio::time::interval(CATCH_UP_EVERY);
        tick.tick().await;
        // How far each log was handed to the sessions here by `deliver`.
        let mut relayed: HashMap<(AccountId, DeviceId), u64> = HashMap::new();
        loop {
            tokio::select! {
                () = stopped(&mut stop) => return,
                signal = signals.recv() => match signal {
                    Some(payload) => {
                        // Every signal waiting is handled at once.
                        let mut payloads = vec![payload];
                        while payloads.len() < SIGNALS_AT_ONCE {
                            match signals.try_recv() {
                                Ok(payload) => payloads.push(payload),
                                Err(_) => break,
                            }
                        }
                        deliver(&payloads, own, store.as_ref(), &hub, &metrics, &mut relayed).await;
                    }
                    None => {
                        tracing::warn!("the connection listening for other relay nodes' entries closed; listening again");
                        break;
                    }
                },
                _ = tick.tick() => {
                    catch_up(store.as_ref(), &hub).await;
                    let here: HashSet<AccountId> = hub.accounts().into_iter().collect();
                    relayed.retain(|(account, _), _| here.contains(account));
                    if let Err(e) = store.touch_sessions(node).await {
                        tracing::warn!(error = %e, "cannot mark this node's sessions alive");
                    }
                }
            }
        }
        drop(client);
    }
}

/// Signals handled together at most.
const SIGNALS_AT_ONCE: usize = 256;

/// Entries of one log read for a signal at most; a session further behind reads
/// the rest itself.
const ENTRIES_PER_LOG: u64 = 16;

/// Sealed bytes read for the signals handled together at most.
const BYTES_AT_ONCE: usize = 4 << 20;

/// Hands other nodes' signals to this node's sessions. The entries that head
/// signals announce are read once for the node, for every signal handled together
/// in one query, and handed to the accounts' sessions as they are (`Live::Entries`);
/// a session further behind reads what it lacks itself. A log whose entries cannot
/// be read whole here (past the byte budget, damaged, or a store that does not read
/// several logs at once) is signalled to the sessions as its head (`Live::Head`),
/// and each reads it from the store. `relayed` is how far each log was handed on.
async fn deliver(
    payloads: &[String],
    own: Option<u64>,
    store: &dyn RelayStore,
    hub: &Hub,
    metrics: &Metrics,
    relayed: &mut HashMap<(AccountId, DeviceId), u64>,
) {
    let mut heads: BTreeMap<(AccountId, DeviceId), u64> = BTreeMap::new();
    for payload in payloads {
        // An account moved by a re-key: its sessions end.
        if let Some(account) = parse_moved(payload) {
            metrics.signals_received.fetch_add(1, Relaxed);
            hub.moved(&account);
            continue;
        }
        match parse(payload) {
            Some((
                account,
                device,
                Signal::Head {
                    head,
                    sent_ms,
                    origin,
                },
            )) => {
                metrics.signals_received.fetch_add(1, Relaxed);
                if let Some(sent) = sent_ms {
                    let lag = now_ms().saturating_sub(sent);
                    metrics.signal_lag.observe(Duration::from_millis(lag));
                }
                // This node's own appends reached its sessions already, handed to
                // the hub by the session that stored them; acting on their signal
                // would only have them read back.
                if origin.is_some() && origin == own {
                    continue;
                }
                let known = heads.entry((account, device)).or_insert(0);
                *known = (*known).max(head);
            }
            Some((account, device, Signal::Removed)) => {
                metrics.signals_received.fetch_add(1, Relaxed);
                hub.remove(&account, device);
            }
            None => tracing::warn!("a malformed signal on {CHANNEL}"),
        }
    }
    if heads.is_empty() {
        return;
    }
    // Only accounts with a session here need anything.
    let here: HashSet<AccountId> = hub.accounts().into_iter().collect();
    let ranges: Vec<LogRange> = heads
        .into_iter()
        .filter(|((account, _), _)| here.contains(account))
        .filter_map(|((account, device), head)| {
            let done = relayed
                .get(&(account, device.clone()))
                .copied()
                .unwrap_or(0);
            (done < head).then(|| LogRange {
                account,
                after: done.max(head.saturating_sub(ENTRIES_PER_LOG)),
                device,
                head,
            })
        })
        .collect();
    if ranges.is_empty() {
        return;
    }
    let read = match store.entries_in(&ranges, BYTES_AT_ONCE).await {
        Ok(Some(read)) if read.len() == ranges.len() => read,
        Ok(_) => vec![Vec::new(); ranges.len()],
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the entries other nodes signalled; the sessions read them");
            vec![Vec::new(); ranges.len()]
        }
    };
    let mut by_account: BTreeMap<AccountId, Vec<SealedEntry>> = BTreeMap::new();
    let mut short = Vec::new();
    for (range, entries) in ranges.into_iter().zip(read) {
        let reached = entries.last().map(|e| e.seq);
        if let Some(last) = reached {
            relayed.insert((range.account, range.device.clone()), last);
        }
        by_account.entry(range.account).or_default().extend(entries);
        if reached != Some(range.head) {
            short.push(range);
        }
    }
    for (account, entries) in by_account {
        if !entries.is_empty() {
            hub.publish(&account, Arc::new(entries));
        }
    }
    for range in short {
        hub.signal(&range.account, range.device, range.head);
    }
}

/// Resolves once the relay is stopping.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// Connects and listens; the receiver yields each payload and ends with the connection.
async fn listen(
    config: &tokio_postgres::Config,
) -> Result<(tokio_postgres::Client, mpsc::UnboundedReceiver<String>), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                if tx.send(n.payload().to_string()).is_err() {
                    return;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    Ok((client, rx))
}

/// Signals the heads of every account with a session on this node.
async fn catch_up(store: &dyn RelayStore, hub: &Hub) {
    for account in hub.accounts() {
        match store.heads(&account).await {
            Ok(heads) => {
                for (device, head) in heads {
                    hub.signal(&account, device, head);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "catch-up read of the heads failed");
                return;
            }
        }
        // A re-key's signal lost: the account's sessions end at this read.
        match store.account(&account).await {
            Ok(Some(record)) if record.moved_to.is_some() => {
                hub.moved(&account);
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "catch-up read of the heads failed");
                return;
            }
        }
        // A removal signal lost: its device's session ends at this read.
        match store.registered_devices(&account).await {
            Ok(registry) => {
                for removed in registry.into_iter().filter(|r| r.removed) {
                    hub.remove(&account, removed.device);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "catch-up read of the heads failed");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Live;
    use crate::store::PostgresStore;

    fn phone(seq: u64) -> SealedEntry {
        SealedEntry {
            device: DeviceId::new("phone").unwrap(),
            seq,
            sealed: vec![seq as u8; 48],
        }
    }

    /// The seqs of the entries the room heard, and the heads it was signalled.
    fn heard(live: &mut tokio::sync::broadcast::Receiver<Live>) -> (Vec<u64>, Vec<u64>) {
        let (mut entries, mut heads) = (Vec::new(), Vec::new());
        while let Ok(message) = live.try_recv() {
            match message {
                Live::Entries(batch) => entries.extend(batch.iter().map(|e| e.seq)),
                Live::Head { head, .. } => heads.push(head),
                Live::Removed(_) => panic!("nothing was removed"),
                Live::Moved => panic!("nothing moved"),
            }
        }
        (entries, heads)
    }

    /// Signals from another node have the entries they announce read once for this
    /// node and handed to the account's sessions; signals of this node's own
    /// appends, and of accounts without a session here, are left alone; a log
    /// that cannot be read whole (a damaged entry) is signalled as its head.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn other_nodes_entries_are_read_once_for_the_node_and_its_own_are_left() {
        let db = crate::test_postgres::server().database().await;
        let here: Arc<dyn RelayStore> = Arc::new(PostgresStore::open(&db.config).await.unwrap());
        let there = PostgresStore::open(&db.config).await.unwrap();
        let (mine, theirs) = (
            here.signal_origin().unwrap(),
            there.signal_origin().unwrap(),
        );
        assert_ne!(mine, theirs);
        let account = AccountId([5; 16]);
        let device = DeviceId::new("phone").unwrap();
        let laptop = DeviceId::new("laptop").unwrap();
        let hub = Arc::new(Hub::default());
        let (_session, mut live) = hub.join(account, &crate::Limits::default()).unwrap();
        let metrics = Metrics::default();
        let mut relayed = HashMap::new();
        there
            .append(&account, &[phone(1), phone(2), phone(3)])
            .await
            .unwrap();
        let signals = [
            payload(&account, &device, 2, theirs),
            payload(&account, &device, 3, theirs),
            // This node's own append: its session handed the entry on already.
            payload(&account, &laptop, 1, mine),
            // No session of that account here.
            payload(&AccountId([6; 16]), &device, 1, theirs),
        ];
        deliver(
            &signals,
            Some(mine),
            here.as_ref(),
            &hub,
            &metrics,
            &mut relayed,
        )
        .await;
        assert_eq!(heard(&mut live), (vec![1, 2, 3], vec![]));
        assert_eq!(relayed.get(&(account, device.clone())), Some(&3));
        assert_eq!(metrics.signals_received.load(Relaxed), 4);

        // The next signal hands on only what is new.
        there.append(&account, &[phone(4)]).await.unwrap();
        deliver(
            &[payload(&account, &device, 4, theirs)],
            Some(mine),
            here.as_ref(),
            &hub,
            &metrics,
            &mut relayed,
        )
        .await;
        assert_eq!(heard(&mut live), (vec![4], vec![]));

        // Entry 6 damaged on disk: 5 is handed on, and the head signalled for the
        // sessions to read the rest themselves.
        there.append(&account, &[phone(5), phone(6)]).await.unwrap();
        db.connect()
            .await
            .execute(
                "UPDATE entries SET sealed = set_byte(sealed, 0, get_byte(sealed, 0) # 1)
                 WHERE account = $1 AND device = 'phone' AND seq = 6",
                &[&&account.0[..]],
            )
            .await
            .unwrap();
        deliver(
            &[payload(&account, &device, 6, theirs)],
            Some(mine),
            here.as_ref(),
            &hub,
            &metrics,
            &mut relayed,
        )
        .await;
        assert_eq!(heard(&mut live), (vec![5], vec![6]));
    }

    #[test]
    fn payloads_read_back_and_malformed_ones_are_refused() {
        let (account, device) = (AccountId([0xab; 16]), DeviceId::new("phone-1").unwrap());
        let before = now_ms();
        let Some((
            a,
            d,
            Signal::Head {
                head,
                sent_ms,
                origin,
            },
        )) = parse(&payload(&account, &device, 42, 0x0123_4567_89ab_cdef))
        else {
            panic!("a head signal");
        };
        assert_eq!((a, &d, head), (account, &device, 42));
        assert_eq!(origin, Some(0x0123_4567_89ab_cdef));
        assert!(sent_ms.is_some_and(|ms| ms >= before && ms <= now_ms()));
        // A node that predates the time stamp sends three fields; one that predates
        // the origin, four.
        let older = format!("{} phone-1 42", "ab".repeat(16));
        assert_eq!(
            parse(&older),
            Some((
                account,
                device.clone(),
                Signal::Head {
                    head: 42,
                    sent_ms: None,
                    origin: None,
                }
            ))
        );
        let old = format!("{} phone-1 42 7", "ab".repeat(16));
        assert_eq!(
            parse(&old),
            Some((
                account,
                device.clone(),
                Signal::Head {
                    head: 42,
                    sent_ms: Some(7),
                    origin: None,
                }
            ))
        );
        assert_eq!(
            parse(&removed_payload(&account, &device)),
            Some((account, device.clone(), Signal::Removed))
        );
        assert_eq!(parse_moved(&moved_payload(&account)), Some(account));
        assert_eq!(parse(&moved_payload(&account)), None);
        assert_eq!(parse_moved(&removed_payload(&account, &device)), None);
        assert_eq!(parse_moved("ab moved"), None);
        for bad in [
            "",
            "ab phone 1",
            "zz phone 1",
            &format!("{} PHONE 1", "ab".repeat(16)),
            &format!("{} phone 1 soon", "ab".repeat(16)),
            &format!("{} phone 1 2 3", "ab".repeat(16)),
            &format!("{} phone 1 2 {} 4", "ab".repeat(16), "0".repeat(16)),
            &format!("{} phone 1 2 {}", "ab".repeat(16), "z".repeat(16)),
            &format!("{} phone removed 3", "ab".repeat(16)),
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
