//! The relay's file-descriptor limit: raised to the hard limit at start, and the
//! connection budget kept below it so the database and the relay itself always
//! have descriptors.

/// Descriptors kept out of the connection budget: the database files of both
/// connections (file, write-ahead log, shared memory), the runtime's own, standard
/// streams and logs.
pub(crate) const RESERVED: u64 = 64;

/// Used where the limit cannot be read (not unix) or is unlimited.
const UNLIMITED_BUDGET: usize = 65_536;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit if it can, and returns the
/// soft limit now in force (`None`: unlimited or unknown).
#[cfg(unix)]
pub(crate) fn raise_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let before = getrlimit(Resource::Nofile);
    if before.current.is_some() && before.current != before.maximum {
        let raised = rustix::process::Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, soft = ?before.current, hard = ?before.maximum,
                "cannot raise the file descriptor limit; keeping the soft limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(not(unix))]
pub(crate) fn raise_limit() -> Option<u64> {
    None
}

/// How many connections may be open at once under descriptor limit `limit`, at most
/// `cap`: the limit less [`RESERVED`] (half the limit when it is tiny).
pub(crate) fn connection_budget(limit: Option<u64>, cap: Option<usize>) -> usize {
    let from_limit = match limit {
        Some(limit) if limit > 2 * RESERVED => limit - RESERVED,
        Some(limit) => limit / 2,
        None => UNLIMITED_BUDGET as u64,
    };
    let from_limit = usize::try_from(from_limit).unwrap_or(usize::MAX);
    cap.map_or(from_limit, |cap| cap.min(from_limit)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_a_reserve_below_the_limit() {
        assert_eq!(connection_budget(Some(1024), None), 960);
        assert_eq!(connection_budget(Some(100), None), 50);
        assert_eq!(connection_budget(Some(1024), Some(100)), 100);
        assert_eq!(connection_budget(Some(1024), Some(5000)), 960);
        assert_eq!(connection_budget(None, None), UNLIMITED_BUDGET);
        assert_eq!(connection_budget(Some(0), None), 1);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_soft_limit_is_raised_to_the_hard_limit() {
        let limit = raise_limit();
        let now = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(limit, now.current);
        assert_eq!(now.current, now.maximum, "{now:?}");
    }
}
