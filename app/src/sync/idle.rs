//! Checkpoints made while the desktop is idle and on power: the moment a new device
//! or a pruned relay gains most and the person loses nothing (no battery spent, no
//! capture slowed).
//!
//! A background session that is up to date asks for one when no entry was written
//! or applied for [`IDLE_AFTER`] (the `sync.idle_checkpoint_after` setting changes
//! it), the machine runs on mains power, and at least
//! [`IDLE_MIN_ENTRIES`] entries were written or applied since the last checkpoint this
//! device made or loaded (fewer would cost the relay a checkpoint for little). The
//! threshold checkpoint (`CHECKPOINT_EVERY`) still applies whatever the power.

use std::path::Path;
use std::time::Duration;

/// How long a session must see no entry before the device counts as idle.
pub const IDLE_AFTER: Duration = Duration::from_secs(10 * 60);
/// The fewest entries since the last checkpoint worth an idle checkpoint.
pub const IDLE_MIN_ENTRIES: u64 = 500;

/// What the machine runs on, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Plugged in, or a machine with no battery at all.
    Mains,
    /// Running on its battery.
    Battery,
    /// The system does not say (no power-supply information on this platform).
    Unknown,
}

impl Power {
    /// Reads `/sys/class/power_supply` (Linux). Elsewhere the system does not say.
    pub fn now() -> Power {
        if cfg!(target_os = "linux") {
            Power::read(Path::new("/sys/class/power_supply"))
        } else {
            Power::Unknown
        }
    }

    /// Reads a power-supply folder laid out as Linux's: one folder per supply with
    /// its `type` and `online` (mains adapters) or `status` (batteries). A mains
    /// adapter online means mains; a battery and no adapter online means battery;
    /// no battery at all is a desktop machine on mains.
    pub fn read(root: &Path) -> Power {
        let Ok(supplies) = std::fs::read_dir(root) else {
            return Power::Unknown;
        };
        let field = |dir: &Path, name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let (mut mains_online, mut battery) = (false, false);
        for supply in supplies.flatten() {
            let dir = supply.path();
            match field(&dir, "type").as_str() {
                "Mains" | "USB" => mains_online |= field(&dir, "online") == "1",
                "Battery" => battery = true,
                _ => {}
            }
        }
        match (mains_online, battery) {
            (true, _) | (false, false) => Power::Mains,
            (false, true) => Power::Battery,
        }
    }
}

/// Whether an up-to-date session should make a checkpoint now: idle for `idle_for`
/// of the `idle_after` it waits for, on `power`, with `since_checkpoint` entries
/// since the last one.
pub fn checkpoint_due(
    idle_for: Duration,
    idle_after: Duration,
    power: Power,
    since_checkpoint: u64,
) -> bool {
    power == Power::Mains && idle_for >= idle_after && since_checkpoint >= IDLE_MIN_ENTRIES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn supply(root: &Path, name: &str, fields: &[(&str, &str)]) {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (field, value) in fields {
            std::fs::write(dir.join(field), format!("{value}\n")).unwrap();
        }
    }

    #[test]
    fn power_is_read_from_the_kernels_supplies() {
        let laptop = tempfile::tempdir().unwrap();
        supply(laptop.path(), "AC", &[("type", "Mains"), ("online", "1")]);
        supply(
            laptop.path(),
            "BAT0",
            &[("type", "Battery"), ("status", "Charging")],
        );
        assert_eq!(Power::read(laptop.path()), Power::Mains);
        supply(laptop.path(), "AC", &[("type", "Mains"), ("online", "0")]);
        assert_eq!(Power::read(laptop.path()), Power::Battery);
        // A desktop machine: no battery, perhaps no supply at all.
        let desktop = tempfile::tempdir().unwrap();
        assert_eq!(Power::read(desktop.path()), Power::Mains);
        supply(
            desktop.path(),
            "ucsi-source-psy",
            &[("type", "USB"), ("online", "0")],
        );
        assert_eq!(Power::read(desktop.path()), Power::Mains);
        assert_eq!(Power::read(&desktop.path().join("missing")), Power::Unknown);
    }

    #[test]
    fn an_idle_checkpoint_waits_for_idleness_power_and_enough_entries() {
        let idle = IDLE_AFTER;
        let due = |idle_for, power, since| checkpoint_due(idle_for, IDLE_AFTER, power, since);
        assert!(due(idle, Power::Mains, IDLE_MIN_ENTRIES));
        assert!(!due(idle - Duration::from_secs(1), Power::Mains, 10_000));
        assert!(!due(idle, Power::Battery, 10_000));
        assert!(!due(idle, Power::Unknown, 10_000));
        assert!(!due(idle, Power::Mains, IDLE_MIN_ENTRIES - 1));
    }
}
