//! Event mode: name the event once, then a few seconds per person met, all linked
//! to the event; and an event's page, everyone met there.

use aftercall_shared::api::Request;
use aftercall_shared::commands::{CaptureDraft, Captured, EventRef, PersonRef, ReferralDraft};
use aftercall_shared::model::{Channel, EventId, InteractionKind};
use aftercall_shared::queries::{EventName, EventPage};
use dioxus::prelude::*;

use crate::format;
use crate::ui::components::{EmptyState, FollowUpChips, TextField};
use crate::ui::route::Screen;
use crate::ui::session::{use_query, use_session, Loaded};

/// The setting holding the name of the event under way.
pub const EVENT_NAME: &str = "event.current.name";
/// The setting holding its id, once the first person was saved.
pub const EVENT_ID: &str = "event.current.id";

/// What one quick capture at an event holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Met {
    pub name: String,
    pub line: String,
    pub referral: String,
    pub follow_up: Option<aftercall_shared::model::Day>,
}

impl Met {
    /// The capture for this person at the event.
    pub fn draft(&self, event: EventRef) -> CaptureDraft {
        CaptureDraft {
            people: vec![PersonRef::Named(self.name.trim().to_string())],
            kind: InteractionKind::Event,
            channel: Channel::InPerson,
            talked_about: self.line.trim().to_string(),
            follow_up: self.follow_up,
            referrals: if self.referral.trim().is_empty() {
                Vec::new()
            } else {
                vec![ReferralDraft {
                    name: self.referral.trim().to_string(),
                    ..Default::default()
                }]
            },
            event: Some(event),
            ..Default::default()
        }
    }
}

fn setting(key: &str) -> Request {
    Request::Setting { key: key.into() }
}

fn set(key: &str, value: Option<String>) -> Request {
    Request::SetSetting {
        key: key.into(),
        value,
    }
}

/// The Event mode screen.
#[component]
pub fn EventMode() -> Element {
    match use_query::<Option<String>>(setting(EVENT_NAME)) {
        Loaded::Ready(None) => rsx! { StartEvent {} },
        Loaded::Ready(Some(name)) => rsx! { AtEvent { name } },
        other => other.placeholder(),
    }
}

#[component]
fn StartEvent() -> Element {
    let session = use_session();
    let mut typed = use_signal(String::new);
    let events = use_query::<Vec<EventName>>(Request::Events { limit: 20 })
        .ready()
        .unwrap_or_default();
    let start_session = session.clone();
    let start = move || {
        let name = typed().trim().to_string();
        if name.is_empty() {
            start_session.error("Name the event first.");
            return;
        }
        let session = start_session.clone();
        spawn(async move {
            if session.send::<()>(set(EVENT_ID, None)).await.is_some() {
                session.send::<()>(set(EVENT_NAME, Some(name))).await;
            }
        });
    };
    let start2 = start.clone();
    rsx! {
        section { class: "screen event", "aria-labelledby": "event-title",
            h1 { id: "event-title", "Event mode" }
            p { class: "hint", "At a conference with no signal? Name the event once, then note each person in a few seconds. Everything is saved on this device and linked to the event." }
            TextField {
                id: "event-name",
                label: "Event name",
                placeholder: "e.g. SaaS Summit Berlin",
                autofocus: true,
                on_input: move |v| typed.set(v),
                on_enter: move |_| start(),
            }
            button { r#type: "button", id: "event-start", class: "primary", onclick: move |_| start2(), "Start event" }
            if !events.is_empty() {
                h2 { "Past events" }
                ul { class: "cards", id: "events",
                    for e in events {
                        li { key: "{e.id}", class: "card",
                            button {
                                r#type: "button",
                                class: "card-main link",
                                onclick: {
                                    let session = session.clone();
                                    let id = e.id.clone();
                                    move |_| session.go(Screen::EventPage(id.clone()))
                                },
                                span { class: "who", "{e.name}" }
                                span { class: "meta", "{format::day(e.date)}" }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[component]
fn AtEvent(name: String) -> Element {
    let session = use_session();
    let mut generation = use_signal(|| 0u64);
    let event_id = use_query::<Option<String>>(setting(EVENT_ID))
        .ready()
        .flatten();
    let end = session.clone();
    rsx! {
        section { class: "screen event", "aria-labelledby": "event-title",
            h1 { id: "event-title", "At {name}" }
            div { class: "row-actions",
                button {
                    r#type: "button",
                    id: "event-end",
                    class: "secondary",
                    onclick: move |_| {
                        let end = end.clone();
                        async move {
                            if end.send::<()>(set(EVENT_NAME, None)).await.is_some()
                                && end.send::<()>(set(EVENT_ID, None)).await.is_some()
                            {
                                end.done("Event ended. Its page stays under Past events.");
                            }
                        }
                    },
                    "End event"
                }
            }
            for g in std::iter::once(generation()) {
                QuickCapture {
                    key: "{g}",
                    event_name: name.clone(),
                    event_id: event_id.clone(),
                    on_saved: move |_| generation += 1,
                }
            }
            h2 { "Met here so far" }
            if let Some(id) = event_id {
                MetHere { id: EventId::from(id) }
            } else {
                p { class: "hint", "Nobody yet: the first person you save starts the list." }
            }
        }
    }
}

/// Everyone saved at the event under way, newest first.
#[component]
fn MetHere(id: EventId) -> Element {
    let page = match use_query::<EventPage>(Request::EventPage { id }) {
        Loaded::Ready(page) => page,
        other => return other.placeholder(),
    };
    rsx! {
        ul { class: "cards", id: "met-here",
            for i in page.interactions.iter().rev().cloned() {
                li { key: "{i.id}", class: "card",
                    div { class: "card-main",
                        span { class: "who", "{super::today::people_names(&i)}" }
                        if !i.talked_about.is_empty() { span { class: "gist", "{format::gist(&i.talked_about, 80)}" } }
                    }
                }
            }
        }
    }
}

#[component]
fn QuickCapture(
    event_name: String,
    event_id: Option<String>,
    on_saved: EventHandler<()>,
) -> Element {
    let session = use_session();
    let mut met = use_signal(Met::default);
    let mut saving = use_signal(|| false);
    let mut save = move || {
        let m = met();
        if m.name.trim().is_empty() {
            session.error("Type the name of the person you met.");
            return;
        }
        if saving() {
            return;
        }
        let event = match &event_id {
            Some(id) => EventRef::Existing(id.as_str().into()),
            None => EventRef::Named(event_name.clone()),
        };
        let draft = m.draft(event);
        let (session, event_name) = (session.clone(), event_name.clone());
        saving.set(true);
        spawn(async move {
            if let Some(done) = session.send::<Captured>(Request::Capture(draft)).await {
                if let Some(id) = done.event_id {
                    session
                        .send::<()>(set(EVENT_ID, Some(id.to_string())))
                        .await;
                }
                session.done(format!("Saved: {} at {event_name}.", m.name.trim()));
                on_saved.call(());
            }
            saving.set(false);
        });
    };
    let mut save2 = save.clone();
    let m = met();
    rsx! {
        div {
            class: "form quick",
            onkeydown: move |e: KeyboardEvent| {
                let mods = e.modifiers();
                if e.key() == Key::Enter && (mods.contains(Modifiers::CONTROL) || mods.contains(Modifiers::META)) {
                    save();
                }
            },
            TextField { id: "met-name", label: "Who did you meet?", autofocus: true,
                on_input: move |v| met.write().name = v }
            TextField { id: "met-line", label: "One line to remember them by",
                on_input: move |v| met.write().line = v }
            TextField { id: "met-referral", label: "Someone they suggested (optional)",
                on_input: move |v| met.write().referral = v }
            FollowUpChips { id: "met-follow-up", selected: m.follow_up,
                on_choose: move |v| met.write().follow_up = v }
            button { r#type: "button", id: "met-save", class: "primary", onclick: move |_| save2(), "Save and next" }
        }
    }
}

/// An event's page: everyone met there and what was said.
#[component]
pub fn EventPageView(id: EventId) -> Element {
    let session = use_session();
    let page = match use_query::<EventPage>(Request::EventPage { id }) {
        Loaded::Ready(p) => p,
        Loaded::Failed(e) => {
            return rsx! { EmptyState { title: "This event cannot be shown.", hint: "{e}" } }
        }
        loading => return loading.placeholder(),
    };
    let back = session.clone();
    rsx! {
        section { class: "screen event-page", "aria-labelledby": "event-page-title",
            button { r#type: "button", class: "link back", onclick: move |_| back.go(Screen::Event), "‹ Events" }
            h1 { id: "event-page-title", "{page.event.name}" }
            p { class: "subtitle", "{format::day(page.event.date)} · {page.people.len()} people met" }
            ul { class: "cards", id: "event-people",
                for p in page.people.clone() {
                    li { key: "{p.id}", class: "card",
                        button {
                            r#type: "button",
                            class: "card-main link",
                            onclick: {
                                let session = session.clone();
                                let pid = p.id.clone();
                                move |_| session.go(Screen::Person(pid.clone()))
                            },
                            span { class: "who", "{p.name}" }
                            {
                                let line = page.interactions.iter()
                                    .find(|i| i.people.iter().any(|x| x.id == p.id))
                                    .map(|i| format::gist(&i.talked_about, 80))
                                    .unwrap_or_default();
                                rsx! { if !line.is_empty() { span { class: "gist", "{line}" } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_met_at_an_event_is_an_in_person_event_capture() {
        let m = Met {
            name: "  Zoë Park ".into(),
            line: "runs a design studio".into(),
            referral: "Sam".into(),
            follow_up: None,
        };
        let d = m.draft(EventRef::Named("Summit".into()));
        assert_eq!(d.people, vec![PersonRef::Named("Zoë Park".into())]);
        assert_eq!(d.kind, InteractionKind::Event);
        assert_eq!(d.channel, Channel::InPerson);
        assert_eq!(d.referrals.len(), 1);
        assert_eq!(d.event, Some(EventRef::Named("Summit".into())));
        let none = Met {
            name: "A".into(),
            ..Default::default()
        }
        .draft(EventRef::Existing("e".into()));
        assert!(none.referrals.is_empty());
    }
}
