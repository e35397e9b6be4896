//! System notifications for follow-ups falling due: each one once, not at every
//! start (the ones already raised are remembered in a setting).

use aftercall_shared::api::Request;
use aftercall_shared::queries::{FollowUpDue, Today, TODAY_PAGE};

use super::session::{local_today, Session};
use super::views::people_names;

/// The setting listing the follow-ups already notified, one `id@date` a line.
pub const NOTIFIED: &str = "notify.follow-ups";

/// What to notify now, and the new value of the setting: follow-ups due that were
/// not notified for this date yet. Keys of follow-ups no longer due are dropped.
pub fn plan<'a>(due: &'a [FollowUpDue], notified: &str) -> (Vec<&'a FollowUpDue>, String) {
    let seen: Vec<&str> = notified.lines().collect();
    let key = |f: &FollowUpDue| format!("{}@{}", f.id, f.on);
    let fresh = due
        .iter()
        .filter(|f| !seen.contains(&key(f).as_str()))
        .collect();
    let keep: Vec<String> = due.iter().map(key).collect();
    (fresh, keep.join("\n"))
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
    let notified = session
        .send::<Option<String>>(Request::Setting {
            key: NOTIFIED.into(),
        })
        .await
        .flatten()
        .unwrap_or_default();
    let (fresh, keep) = plan(&today.follow_ups, &notified);
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
    let remember = Request::SetSetting {
        key: NOTIFIED.into(),
        value: (!keep.is_empty()).then_some(keep),
    };
    session.send::<()>(remember).await;
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
            },
        }
    }

    #[test]
    fn each_follow_up_is_notified_once_per_due_date() {
        let list = vec![due("a", "2026-11-23"), due("b", "2026-11-22")];
        let (fresh, keep) = plan(&list, "");
        assert_eq!(fresh.len(), 2);
        let (again, keep2) = plan(&list, &keep);
        assert!(again.is_empty(), "a second start raises nothing");
        assert_eq!(keep, keep2);
        // Moved to another day: due again later, notified again then.
        let moved = vec![due("a", "2026-11-25")];
        let (fresh, keep3) = plan(&moved, &keep2);
        assert_eq!(fresh.len(), 1);
        assert_eq!(keep3, "a@2026-11-25");
    }
}
