//! Who holds the relay's connections: every open socket counts against the
//! descriptor budget, and a connection that has not yet become a session counts as
//! unauthenticated, in all and per address, until it upgrades.
//!
//! Room is made for the newest connection: past a cap, the oldest unauthenticated
//! connection (of that address, or of all) is closed. So silent or slow clients
//! cannot lock a device out; they only push each other out. When the budget is
//! full of sessions, a new connection is closed at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::metrics::{Eviction, Metrics};
use crate::Limits;

/// Connections past the budget admitted while the connections evicted for them
/// close (their tasks drop them as soon as they run).
const EVICTION_SLACK: usize = 32;

/// Where connections come from, for the per-address cap: an IPv4 address, or the
/// /64 network of an IPv6 one (one host is given a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Source(u128);

impl From<IpAddr> for Source {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Source(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(u128::from(u32::from(v4))),
                None => Source((u128::from(v6) >> 64) | (1 << 127)),
            },
        }
    }
}

/// The relay's connections.
pub(crate) struct Connections {
    budget: usize,
    max_unauthenticated: usize,
    max_per_source: usize,
    metrics: Arc<Metrics>,
    registry: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    open: usize,
    next_id: u64,
    /// Unauthenticated connections by id, oldest first.
    waiting: BTreeMap<u64, Waiting>,
    by_source: HashMap<Source, BTreeSet<u64>>,
}

struct Waiting {
    source: Source,
    evict: oneshot::Sender<()>,
}

/// One accepted socket's place in the budget; dropping it gives the place back.
/// It lives as long as the socket, through the session it may become.
pub(crate) struct ConnectionSlot {
    connections: Arc<Connections>,
}

/// A connection not yet authenticated. Dropping it (or [`Self::authenticated`])
/// takes it off the unauthenticated count.
pub(crate) struct Unauthenticated {
    connections: Arc<Connections>,
    id: u64,
}

/// Resolves when the connection was closed to make room for a newer one.
pub(crate) type Evicted = oneshot::Receiver<()>;

/// What a newly accepted connection gets.
pub(crate) struct Admitted {
    pub slot: ConnectionSlot,
    pub unauthenticated: Unauthenticated,
    pub evicted: Evicted,
}

impl Connections {
    pub fn new(budget: usize, limits: &Limits, metrics: Arc<Metrics>) -> Arc<Self> {
        metrics.connection_budget.store(budget as u64, Relaxed);
        Arc::new(Connections {
            budget,
            max_unauthenticated: limits.max_unauthenticated.max(1),
            max_per_source: limits.max_unauthenticated_per_ip.max(1),
            metrics,
            registry: Mutex::new(Registry::default()),
        })
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a connection from `peer`, evicting older unauthenticated ones to make
    /// room; `None` when the budget is full of sessions (close it at once).
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Admitted> {
        let source = Source::from(peer);
        let mut registry = self.registry();
        if registry.open >= self.budget {
            let room = registry.open < self.budget + EVICTION_SLACK
                && registry.evict_oldest(None, Eviction::Budget, &self.metrics);
            if !room {
                self.metrics.connections_refused.fetch_add(1, Relaxed);
                return None;
            }
        }
        if registry
            .by_source
            .get(&source)
            .is_some_and(|ids| ids.len() >= self.max_per_source)
        {
            registry.evict_oldest(Some(source), Eviction::PerAddress, &self.metrics);
        }
        if registry.waiting.len() >= self.max_unauthenticated {
            registry.evict_oldest(None, Eviction::Unauthenticated, &self.metrics);
        }
        let id = registry.next_id;
        registry.next_id += 1;
        let (evict, evicted) = oneshot::channel();
        registry.waiting.insert(id, Waiting { source, evict });
        registry.by_source.entry(source).or_default().insert(id);
        registry.open += 1;
        self.metrics.connections_accepted.fetch_add(1, Relaxed);
        self.publish(&registry);
        Some(Admitted {
            slot: ConnectionSlot {
                connections: self.clone(),
            },
            unauthenticated: Unauthenticated {
                connections: self.clone(),
                id,
            },
            evicted,
        })
    }

    /// Open connections, sessions included.
    pub fn open(&self) -> usize {
        self.registry().open
    }

    fn publish(&self, registry: &Registry) {
        self.metrics
            .open_connections
            .store(registry.open as i64, Relaxed);
        self.metrics
            .unauthenticated_connections
            .store(registry.waiting.len() as i64, Relaxed);
    }
}

impl Registry {
    /// Closes the oldest unauthenticated connection (of `source`, or of all).
    fn evict_oldest(&mut self, source: Option<Source>, why: Eviction, metrics: &Metrics) -> bool {
        let oldest = match source {
            Some(source) => self
                .by_source
                .get(&source)
                .and_then(|ids| ids.first().copied()),
            None => self.waiting.keys().next().copied(),
        };
        let Some(id) = oldest else { return false };
        if let Some(waiting) = self.forget(id) {
            let _ = waiting.evict.send(());
            metrics.evicted(why);
        }
        true
    }

    fn forget(&mut self, id: u64) -> Option<Waiting> {
        let waiting = self.waiting.remove(&id)?;
        if let Some(ids) = self.by_source.get_mut(&waiting.source) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_source.remove(&waiting.source);
            }
        }
        Some(waiting)
    }
}

impl Unauthenticated {
    /// The connection has become a session that passed hello.
    pub fn authenticated(self) {}
}

impl Drop for Unauthenticated {
    fn drop(&mut self) {
        let mut registry = self.connections.registry();
        registry.forget(self.id);
        self.connections.publish(&registry);
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut registry = self.connections.registry();
        registry.open = registry.open.saturating_sub(1);
        self.connections.publish(&registry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn limits(total: usize, per_ip: usize) -> Limits {
        Limits {
            max_unauthenticated: total,
            max_unauthenticated_per_ip: per_ip,
            ..Limits::default()
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn an_address_over_its_cap_loses_its_oldest_connection() {
        let conns = Connections::new(100, &limits(50, 2), Arc::default());
        let mut first = conns.admit(ip(1)).unwrap();
        let mut second = conns.admit(ip(1)).unwrap();
        let mut other = conns.admit(ip(2)).unwrap();
        let _third = conns.admit(ip(1)).unwrap();
        assert!(
            first.evicted.try_recv().is_ok(),
            "the oldest of 192.0.2.1 goes"
        );
        assert!(second.evicted.try_recv().is_err());
        assert!(
            other.evicted.try_recv().is_err(),
            "other addresses keep theirs"
        );
        assert_eq!(conns.open(), 4, "evicted sockets count until they close");
        drop(first);
        assert_eq!(conns.open(), 3);
    }

    #[test]
    fn the_oldest_unauthenticated_connection_makes_room_for_the_newest() {
        let conns = Connections::new(100, &limits(2, 10), Arc::default());
        let mut a = conns.admit(ip(1)).unwrap();
        let mut b = conns.admit(ip(2)).unwrap();
        let _c = conns.admit(ip(3)).unwrap();
        assert!(a.evicted.try_recv().is_ok());
        assert!(b.evicted.try_recv().is_err());
    }

    #[test]
    fn a_full_budget_evicts_the_unauthenticated_and_refuses_when_all_are_sessions() {
        let metrics = Arc::new(Metrics::default());
        let conns = Connections::new(2, &limits(10, 10), metrics.clone());
        let a = conns.admit(ip(1)).unwrap();
        let b = conns.admit(ip(2)).unwrap();
        // Both become sessions: nothing is left to evict.
        a.unauthenticated.authenticated();
        b.unauthenticated.authenticated();
        assert!(conns.admit(ip(3)).is_none(), "refused");
        assert_eq!(metrics.connections_refused.load(Relaxed), 1);
        drop(a.slot);
        let mut c = conns.admit(ip(3)).unwrap();
        // The budget is full again, with one unauthenticated: it makes room.
        let _d = conns.admit(ip(4)).unwrap();
        assert!(c.evicted.try_recv().is_ok());
        drop(c);
        assert_eq!(conns.open(), 2);
        assert_eq!(metrics.unauthenticated_connections.load(Relaxed), 1);
    }

    #[test]
    fn ipv6_addresses_of_one_network_share_a_cap() {
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Source::from(IpAddr::V6(a)), Source::from(IpAddr::V6(b)));
        assert_ne!(Source::from(IpAddr::V6(a)), Source::from(IpAddr::V6(c)));
        let mapped: Ipv6Addr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(Source::from(IpAddr::V6(mapped)), Source::from(ip(1)));
    }
}
