//! Today: thank-yous to send, follow-ups due or overdue, intros to chase, each
//! done or moved with one tap.

use aftercall_shared::api::Request;
use aftercall_shared::dates::parse_date;
use aftercall_shared::model::{Day, InteractionKind, MeetingPrompt, ReferralStatus};
use aftercall_shared::queries::{
    FollowUpDue, GoalProgress, InteractionRow, KeepInTouchDue, MeetingToAsk, MeetingsToAsk,
    ReferralRow, ThankYouDue, Today as TodayData, TODAY_PAGE,
};
use dioxus::prelude::*;

use crate::format;
use crate::ui::components::EmptyState;
use crate::ui::draft::{remembered_kind, Draft, KIND_SETTING};
use crate::ui::route::Screen;
use crate::ui::session::{local_today, use_query, use_session, Loaded};

/// The names of the people in a conversation, joined.
pub fn people_names(row: &InteractionRow) -> String {
    let names: Vec<&str> = row.people.iter().map(|p| p.name.as_str()).collect();
    if names.is_empty() {
        "someone".to_string()
    } else {
        names.join(", ")
    }
}

/// The next step of a referral and the button label that takes it.
pub fn next_referral_step(status: ReferralStatus) -> Option<(ReferralStatus, &'static str)> {
    match status {
        ReferralStatus::Suggested => Some((ReferralStatus::IntroAsked, "Asked for intro")),
        ReferralStatus::IntroAsked => Some((ReferralStatus::IntroMade, "Intro made")),
        ReferralStatus::IntroMade => Some((ReferralStatus::Talked, "Talked")),
        ReferralStatus::Talked => None,
    }
}

/// The Today screen.
#[component]
pub fn Today() -> Element {
    let mut shown = use_signal(|| TODAY_PAGE);
    let today = use_query::<TodayData>(Request::Today {
        day: local_today().into(),
        limit: shown(),
    });
    let meetings = use_query::<MeetingsToAsk>(Request::MeetingsToAsk { limit: shown() });
    let goal = use_query::<Option<GoalProgress>>(Request::GoalProgress {
        day: local_today().into(),
        offset_minutes: crate::ui::session::local_offset().local_minus_utc() / 60,
    });
    let (data, meetings) = match (today, meetings) {
        (Loaded::Ready(t), Loaded::Ready(m)) => (t, m),
        (Loaded::Ready(_), other) => return other.placeholder(),
        (other, _) => return other.placeholder(),
    };
    let clear = data.is_clear() && meetings.meetings.is_empty();
    let counts = data.counts;
    // One "show more" serves every list: it raises how many each list shows.
    let more = |total: usize, showing: usize| {
        (total > showing).then(|| {
            rsx! {
                button {
                    r#type: "button",
                    class: "secondary more",
                    onclick: move |_| shown += TODAY_PAGE,
                    "Show {TODAY_PAGE.min(total - showing)} more of {total}"
                }
            }
        })
    };
    rsx! {
        section { class: "screen today", "aria-labelledby": "today-title",
            h1 { id: "today-title", "Today" }
            p { class: "subtitle", "{format::day(data.date)}" }
            if let Loaded::Ready(Some(g)) = goal {
                super::review::GoalBar { goal: g.goal, done: g.done }
            }
            if clear {
                EmptyState {
                    title: "All square: nothing owed today.",
                    hint: "Thank-yous, follow-ups and intros you note in Capture show up here when they are due.",
                    action: Some(("Capture a call".to_string(), Screen::Capture)),
                }
            }
            if !meetings.meetings.is_empty() {
                h2 { "How did it go? " span { class: "count", "{meetings.total}" } }
                AskForNotifications {}
                ul { class: "cards", id: "meetings",
                    for m in meetings.meetings.clone() {
                        MeetingCard { key: "{m.id}", item: m }
                    }
                }
                {more(meetings.total, meetings.meetings.len())}
            }
            if !data.thank_yous.is_empty() {
                h2 { "Thank-yous to send " span { class: "count", "{counts.thank_yous}" } }
                ul { class: "cards", id: "thank-yous",
                    for t in data.thank_yous.clone() {
                        ThankYouCard { key: "{t.interaction.id}", item: t }
                    }
                }
                {more(counts.thank_yous, data.thank_yous.len())}
            }
            if !data.follow_ups.is_empty() {
                h2 { "Follow-ups due " span { class: "count", "{counts.follow_ups}" } }
                ul { class: "cards", id: "follow-ups",
                    for f in data.follow_ups.clone() {
                        FollowUpCard { key: "{f.id}", item: f }
                    }
                }
                {more(counts.follow_ups, data.follow_ups.len())}
            }
            if !data.intros.is_empty() {
                h2 { "Intros to chase " span { class: "count", "{counts.intros}" } }
                ul { class: "cards", id: "intros",
                    for r in data.intros.clone() {
                        IntroCard { key: "{r.id}", item: r }
                    }
                }
                {more(counts.intros, data.intros.len())}
            }
            if !data.keep_in_touch.is_empty() {
                h2 { "Keep in touch " span { class: "count", "{counts.keep_in_touch}" } }
                ul { class: "cards", id: "keep-in-touch",
                    for k in data.keep_in_touch.clone() {
                        KeepInTouchCard { key: "{k.person}", item: k }
                    }
                }
                {more(counts.keep_in_touch, data.keep_in_touch.len())}
            }
            if !data.upcoming.is_empty() {
                h2 { "Coming up this week " span { class: "count", "{counts.upcoming}" } }
                ul { class: "cards quiet", id: "upcoming",
                    for f in data.upcoming.clone() {
                        li { key: "{f.id}", class: "card",
                            div { class: "card-main",
                                span { class: "who", "{people_names(&f.interaction)}" }
                                span { class: "meta", "{format::due(f.overdue_days)} · {format::day(f.on)}" }
                            }
                        }
                    }
                }
                {more(counts.upcoming, data.upcoming.len())}
            }
        }
    }
}

/// Where notifications can be asked for (a browser): a button that asks, so the
/// next meeting's end is noticed while the app is open.
#[component]
fn AskForNotifications() -> Element {
    let session = use_session();
    let mut state = use_signal(|| session.platform.notifications());
    if state() != crate::platform::Notifications::CanAsk {
        return rsx! {};
    }
    rsx! {
        button {
            r#type: "button",
            class: "link",
            id: "ask-notifications",
            onclick: move |_| {
                let session = session.clone();
                spawn(async move {
                    let now = session.platform.ask_for_notifications().await;
                    state.set(now);
                    if now == crate::platform::Notifications::Allowed {
                        session.done("You will be asked how it went when a meeting ends.");
                    }
                });
            },
            "Notify me when a meeting ends"
        }
    }
}

/// The kind the last capture had: the default of the next one.
async fn last_kind(session: &crate::ui::session::Session) -> InteractionKind {
    let setting = Request::Setting {
        key: KIND_SETTING.into(),
    };
    remembered_kind(session.send::<Option<String>>(setting).await.flatten())
}

/// A calendar meeting that has ended: capture it in one tap, or stop asking.
#[component]
fn MeetingCard(item: MeetingToAsk) -> Element {
    let session = use_session();
    let guests: Vec<&str> = item.guests.iter().map(|g| g.label()).collect();
    let guests = guests.join(", ");
    let when = format::when(item.start.timestamp_millis());
    let (s1, s2, s3) = (session.clone(), session.clone(), session.clone());
    let (id2, id3) = (item.id.clone(), item.id.clone());
    let summary = item.summary.clone();
    let meeting = item.clone();
    rsx! {
        li { class: "card meeting",
            div { class: "card-main",
                span { class: "who", "{item.summary}" }
                span { class: "meta", "{format::channel_choice(item.channel)} · {when}" }
                if !guests.is_empty() { span { class: "gist", "With {guests}" } }
            }
            div { class: "card-actions",
                button {
                    r#type: "button",
                    class: "primary",
                    "aria-label": "Capture {summary}",
                    onclick: move |_| {
                        let session = s1.clone();
                        let meeting = meeting.clone();
                        spawn(async move {
                            let kind = last_kind(&session).await;
                            session.capture_with(Draft::for_meeting(&meeting, kind));
                        });
                    },
                    "Capture"
                }
                button {
                    r#type: "button",
                    class: "secondary",
                    "aria-label": "Dismiss {item.summary}",
                    onclick: move |_| s2.act(
                        Request::AnswerMeeting { id: id2.clone(), answer: MeetingPrompt::Dismissed },
                        "Dismissed: it will not be asked about again.",
                    ),
                    "Dismiss"
                }
                button {
                    r#type: "button",
                    class: "secondary",
                    "aria-label": "{item.summary} was not a networking call",
                    onclick: move |_| s3.act(
                        Request::AnswerMeeting { id: id3.clone(), answer: MeetingPrompt::NotNetworking },
                        "Not a networking call: it will not be asked about again.",
                    ),
                    "Not networking"
                }
            }
        }
    }
}

/// Someone past their cadence: open their diary, or capture a call with them.
#[component]
fn KeepInTouchCard(item: KeepInTouchDue) -> Element {
    let session = use_session();
    let last = match item.last {
        Some(day) => format!("last talked {}", format::day(day)),
        None => "not talked to yet".to_string(),
    };
    let (s1, s2) = (session.clone(), session.clone());
    let (id1, id2) = (item.person.clone(), item.person.clone());
    let name = item.name.clone();
    rsx! {
        li { class: "card",
            div { class: "card-main",
                button {
                    r#type: "button",
                    class: "who link",
                    onclick: move |_| s1.go(Screen::Person(id1.clone())),
                    "{item.name}"
                }
                span { class: if item.overdue_days > 0 { "meta overdue" } else { "meta" },
                    "{format::due(item.overdue_days)} · {item.cadence.describe()}"
                }
                span { class: "gist", "{last}" }
            }
            div { class: "card-actions",
                button {
                    r#type: "button",
                    class: "primary",
                    "aria-label": "Capture a call with {name}",
                    onclick: move |_| {
                        let session = s2.clone();
                        let (id, name) = (id2.clone(), name.clone());
                        spawn(async move {
                            let kind = last_kind(&session).await;
                            session.capture_with(Draft::with_person(id, name, kind));
                        });
                    },
                    "Capture"
                }
            }
        }
    }
}

#[component]
fn PersonLink(row: InteractionRow) -> Element {
    let session = use_session();
    let first = row.people.first().map(|p| p.id.clone());
    let names = people_names(&row);
    rsx! {
        button {
            r#type: "button",
            class: "who link",
            onclick: move |_| {
                if let Some(id) = first.clone() {
                    session.go(Screen::Person(id));
                }
            },
            "{names}"
        }
    }
}

#[component]
fn ThankYouCard(item: ThankYouDue) -> Element {
    let session = use_session();
    let row = item.interaction;
    let id = row.id.clone();
    let names = people_names(&row);
    let gist = format::gist(&row.talked_about, 80);
    rsx! {
        li { class: "card",
            div { class: "card-main",
                PersonLink { row: row.clone() }
                span { class: "meta", "{format::kind(row.kind)} · {format::when(row.at)}" }
                if !gist.is_empty() { span { class: "gist", "{gist}" } }
            }
            div { class: "card-actions",
                button {
                    r#type: "button",
                    class: "primary",
                    "aria-label": "Thank-you sent to {names}",
                    onclick: move |_| session.act(
                        Request::ThankYouSent { id: id.clone(), on: local_today().into() },
                        format!("Thank-you to {names} marked sent."),
                    ),
                    "Sent ✓"
                }
            }
        }
    }
}

#[component]
fn FollowUpCard(item: FollowUpDue) -> Element {
    let session = use_session();
    let row = item.interaction.clone();
    let names = people_names(&row);
    let step = if row.next_step.is_empty() {
        format::gist(&row.talked_about, 80)
    } else {
        format::gist(&row.next_step, 80)
    };
    let overdue = item.overdue_days > 0;
    let done_id = item.id.clone();
    let move_id = item.id.clone();
    let move_id2 = item.id.clone();
    let (s1, s2, s3) = (session.clone(), session.clone(), session.clone());
    let (n1, n2, n3) = (names.clone(), names.clone(), names.clone());
    rsx! {
        li { class: "card",
            div { class: "card-main",
                PersonLink { row: row.clone() }
                span { class: if overdue { "meta overdue" } else { "meta" }, "{format::due(item.overdue_days)}" }
                if !step.is_empty() { span { class: "gist", "{step}" } }
            }
            div { class: "card-actions",
                button {
                    r#type: "button",
                    class: "primary",
                    "aria-label": "Follow-up with {n1} done",
                    onclick: move |_| s1.act(
                        Request::FollowUpDone { id: done_id.clone() },
                        format!("Follow-up with {n1} done."),
                    ),
                    "Done ✓"
                }
                button {
                    r#type: "button",
                    class: "secondary",
                    "aria-label": "Move follow-up with {n2} to tomorrow",
                    onclick: move |_| {
                        let Ok(to) = parse_date("tomorrow", local_today()).map(Day::from) else { return };
                        s2.act(
                            Request::FollowUpMoved { id: move_id.clone(), to },
                            format!("Follow-up with {n2} moved to tomorrow."),
                        );
                    },
                    "Tomorrow"
                }
                button {
                    r#type: "button",
                    class: "secondary",
                    "aria-label": "Move follow-up with {n3} to next week",
                    onclick: move |_| {
                        let Ok(to) = parse_date("next week", local_today()).map(Day::from) else { return };
                        s3.act(
                            Request::FollowUpMoved { id: move_id2.clone(), to },
                            format!("Follow-up with {n3} moved to next week."),
                        );
                    },
                    "Next week"
                }
            }
        }
    }
}

#[component]
fn IntroCard(item: ReferralRow) -> Element {
    let session = use_session();
    let from = item
        .referrer
        .as_ref()
        .map(|p| format!("from {}", p.name))
        .unwrap_or_default();
    let flags: Vec<&str> = [
        (item.will_introduce, "will introduce"),
        (item.will_tell, "will tell them"),
        (item.may_use_name, "may use their name"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, w)| w)
    .collect();
    let next = next_referral_step(item.status);
    let id = item.id.clone();
    let name = item.name.clone();
    rsx! {
        li { class: "card",
            div { class: "card-main",
                span { class: "who", "{item.name}" }
                span { class: "meta", "{format::referral_status(item.status)} {from}" }
                if !flags.is_empty() { span { class: "gist", {flags.join(" · ")} } }
                if !item.reach.is_empty() { span { class: "gist", "Reach: {item.reach}" } }
            }
            if let Some((status, label)) = next {
                div { class: "card-actions",
                    button {
                        r#type: "button",
                        class: "primary",
                        "aria-label": "{label}: {name}",
                        onclick: move |_| session.act(
                            Request::ReferralStatus { id: id.clone(), status },
                            format!("{name}: {}.", format::referral_status(status)),
                        ),
                        "{label}"
                    }
                }
            }
        }
    }
}
