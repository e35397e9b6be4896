//! System notifications for follow-ups falling due and calendar meetings that have
//! ended: each one once, not at every start (the ones already raised are
//! remembered in a setting).

use aftercall_shared::api::Request;
use aftercall_shared::queries::{FollowUpDue, MeetingToAsk, MeetingsToAsk, Today, TODAY_PAGE};

use super::session::{local_today, Session};
use super::views::people_names;

/// The setting listing the follow-ups already notified, one `id@date` a line.
pub const NOTIFIED: &str = "notify.follow-ups";

/// The setting listing the meetings already asked about by a notification, one id
/// a line.
pub const NOTIFIED_MEETINGS: &str = "notify.meetings";

/// More meetings than this at once (a calendar just imported) make one notification.
const MEETINGS_ONE_BY_ONE: usize = 3;

/// What to notify now, and the new value of the setting: items (each known by
/// `key`) that were not notified yet. Keys of items no longer listed are dropped.
pub fn plan<'a, T>(
    items: &'a [T],
    key: impl Fn(&T) -> String,
    notified: &str,
) -> (Vec<&'a T>, String) {
    let seen: Vec<&str> = notified.lines().collect();
    let fresh = items
        .iter()
        .filter(|f| !seen.contains(&key(f).as_str()))
        .collect();
    let keep: Vec<String> = items.iter().map(key).collect();
    (fresh, keep.join("\n"))
}

/// A follow-up is notified again when moved to another day.
fn follow_up_key(f: &FollowUpDue) -> String {
    format!("{}@{}", f.id, f.on)
}

/// The setting `key`'s value, empty when unset.
async fn notified(session: &Session, key: &str) -> String {
    session
        .send::<Option<String>>(Request::Setting { key: key.into() })
        .await
        .flatten()
        .unwrap_or_default()
}

async fn remember(session: &Session, key: &str, keep: String) {
    let remember = Request::SetSetting {
        key: key.into(),
        value: (!keep.is_empty()).then_some(keep),
    };
    session.send::<()>(remember).await;
}

/// What the app last saw of the meetings waiting for "how did it go?".
#[derive(Debug, Default)]
pub struct MeetingsSeen {
    waiting: Vec<aftercall_shared::model::MeetingId>,
    /// The setting of meetings already notified, read once and kept as written.
    notified: Option<String>,
}

/// Looks at the meetings waiting for "how did it go?": notifies each one newly
/// ended, once (one notification for many), when notifications are allowed.
/// Returns whether the waiting meetings changed since the last look, and when the
/// next one ends.
pub async fn meetings_ended(
    session: &Session,
    seen: &mut MeetingsSeen,
) -> (bool, Option<chrono::DateTime<chrono::Utc>>) {
    let Some(asking) = session
        .send::<MeetingsToAsk>(Request::MeetingsToAsk { limit: TODAY_PAGE })
        .await
    else {
        return (false, None);
    };
    let waiting: Vec<_> = asking.meetings.iter().map(|m| m.id.clone()).collect();
    let changed = waiting != seen.waiting;
    seen.waiting = waiting;
    if session.platform.notifications() == crate::platform::Notifications::Allowed {
        let notified_before = match seen.notified.take() {
            Some(known) => known,
            None => notified(session, NOTIFIED_MEETINGS).await,
        };
        let (fresh, keep) = plan(&asking.meetings, |m| m.id.to_string(), &notified_before);
        for (summary, body) in meeting_notifications(&fresh) {
            session.platform.notify(&summary, &body);
        }
        if keep != notified_before {
            remember(session, NOTIFIED_MEETINGS, keep.clone()).await;
        }
        seen.notified = Some(keep);
    }
    (changed, asking.next_end)
}

/// How long to wait before looking at the meetings again: until the next one ends
/// (and a second), at most a minute.
pub fn next_look(
    now: chrono::DateTime<chrono::Utc>,
    next_end: Option<chrono::DateTime<chrono::Utc>>,
) -> std::time::Duration {
    const AT_MOST: std::time::Duration = std::time::Duration::from_secs(60);
    next_end
        .map(|end| {
            (end - now + chrono::Duration::seconds(1))
                .to_std()
                .unwrap_or_default()
        })
        .map_or(AT_MOST, |d| {
            d.clamp(std::time::Duration::from_secs(1), AT_MOST)
        })
}

/// The notifications for meetings newly ended: one each, or one for them all.
fn meeting_notifications(fresh: &[&MeetingToAsk]) -> Vec<(String, String)> {
    if fresh.len() > MEETINGS_ONE_BY_ONE {
        return vec![(
            format!("{} meetings have ended", fresh.len()),
            "How did they go? Capture them from Today.".to_string(),
        )];
    }
    fresh
        .iter()
        .map(|m| {
            let guests: Vec<&str> = m.guests.iter().map(|g| g.label()).collect();
            (
                format!("How did it go? {}", m.summary),
                format!("With {} · capture it from Today", guests.join(", ")),
            )
        })
        .collect()
}

/// Raises one notification per follow-up newly due and remembers them.
pub async fn follow_ups_falling_due(session: &Session) {
    let today = Request::Today {
        day: local_today().into(),
        limit: TODAY_PAGE,
    };
    let Some(today) = session.send::<Today>(today).await else {
        return;
    };
    let seen = notified(session, NOTIFIED).await;
    let (fresh, keep) = plan(&today.follow_ups, follow_up_key, &seen);
    for f in fresh {
        let who = people_names(&f.interaction);
        let what = if f.interaction.next_step.is_empty() {
            crate::format::gist(&f.interaction.talked_about, 80)
        } else {
            crate::format::gist(&f.interaction.next_step, 80)
        };
        session.platform.notify(
            &format!("Follow up with {who}"),
            &format!("{} · {what}", crate::format::due(f.overdue_days)),
        );
    }
    remember(session, NOTIFIED, keep).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftercall_shared::queries::InteractionRow;

    fn due(id: &str, on: &str) -> FollowUpDue {
        FollowUpDue {
            id: id.into(),
            on: on.parse().unwrap(),
            overdue_days: 0,
            interaction: InteractionRow {
                id: id.into(),
                at: 0,
                kind: aftercall_shared::model::InteractionKind::Value,
                channel: aftercall_shared::model::Channel::Phone,
                people: Vec::new(),
                talked_about: String::new(),
                recommended: String::new(),
                observations: String::new(),
                next_step: String::new(),
                business_discussed: false,
                offer_made: false,
                thank_you: aftercall_shared::model::ThankYouState::NotNeeded,
                thank_you_sent_on: None,
                follow_up_on: Some(on.parse().unwrap()),
                follow_up_done: false,
                event: None,
                referrals: Vec::new(),
                attachments: Vec::new(),
            },
        }
    }

    #[test]
    fn each_follow_up_is_notified_once_per_due_date() {
        let list = vec![due("a", "2026-11-23"), due("b", "2026-11-22")];
        let (fresh, keep) = plan(&list, follow_up_key, "");
        assert_eq!(fresh.len(), 2);
        let (again, keep2) = plan(&list, follow_up_key, &keep);
        assert!(again.is_empty(), "a second start raises nothing");
        assert_eq!(keep, keep2);
        // Moved to another day: due again later, notified again then.
        let moved = vec![due("a", "2026-11-25")];
        let (fresh, keep3) = plan(&moved, follow_up_key, &keep2);
        assert_eq!(fresh.len(), 1);
        assert_eq!(keep3, "a@2026-11-25");
    }

    fn ended(id: &str, summary: &str) -> MeetingToAsk {
        let start = chrono::DateTime::from_timestamp(1_796_400_000, 0).unwrap();
        MeetingToAsk {
            id: id.into(),
            start,
            end: start,
            summary: summary.into(),
            location: String::new(),
            link: None,
            channel: aftercall_shared::model::Channel::Video,
            guests: vec![aftercall_shared::queries::Guest {
                email: "bob@stone.dev".into(),
                name: Some("Bob".into()),
                person: None,
            }],
        }
    }

    #[test]
    fn the_app_looks_again_when_the_next_meeting_ends_and_at_least_every_minute() {
        let now = chrono::DateTime::from_timestamp(1_796_400_000, 0).unwrap();
        let secs = std::time::Duration::from_secs;
        assert_eq!(next_look(now, None), secs(60));
        assert_eq!(
            next_look(now, Some(now + chrono::Duration::seconds(8))),
            secs(9)
        );
        assert_eq!(
            next_look(now, Some(now + chrono::Duration::hours(2))),
            secs(60)
        );
        assert_eq!(
            next_look(now, Some(now - chrono::Duration::seconds(5))),
            secs(1)
        );
    }

    #[test]
    fn each_ended_meeting_is_asked_about_once_and_many_at_once_in_one_notification() {
        let one = vec![ended("m1", "Coffee")];
        let (fresh, keep) = plan(&one, |m| m.id.to_string(), "");
        assert_eq!(
            meeting_notifications(&fresh),
            vec![(
                "How did it go? Coffee".to_string(),
                "With Bob · capture it from Today".to_string()
            )]
        );
        let (again, _) = plan(&one, |m| m.id.to_string(), &keep);
        assert!(again.is_empty());
        let many: Vec<MeetingToAsk> = (0..5).map(|i| ended(&format!("m{i}"), "Sync")).collect();
        let (fresh, keep) = plan(&many, |m| m.id.to_string(), &keep);
        assert_eq!(fresh.len(), 4, "m1 was asked about already");
        let said = meeting_notifications(&fresh);
        assert_eq!(said.len(), 1);
        assert_eq!(said[0].0, "4 meetings have ended");
        assert_eq!(keep.lines().count(), 5);
    }
}
