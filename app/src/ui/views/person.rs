//! A person's page: their diary timeline, who introduced them, whom they referred,
//! their last value call; every past note can be edited here.

use aftercall_shared::api::Request;
use aftercall_shared::commands::{InteractionEdit, PersonEdit};
use aftercall_shared::model::{
    AttachmentOwner, Cadence, Day, InteractionKind, PersonId, ThankYou, ThankYouState,
};
use aftercall_shared::queries::{Diary, DuplicateSuggestion, InteractionRow, ReferralRow};
use dioxus::prelude::*;

use crate::format;
use crate::ui::components::{
    AttachControls, AttachmentList, Choice, ChoiceOption, EmptyState, Switch, TextArea, TextField,
};
use crate::ui::route::Screen;
use crate::ui::session::{local_today, use_query, use_session, Loaded, Notice};

/// One person's page.
#[component]
pub fn PersonPage(id: PersonId) -> Element {
    let session = use_session();
    let mut editing_person = use_signal(|| false);
    let diary = match use_query::<Diary>(Request::Diary { person: id.clone() }) {
        Loaded::Ready(d) => d,
        Loaded::Failed(e) => {
            return rsx! {
                EmptyState { title: "This person cannot be shown.", hint: "{e}" }
            }
        }
        loading => return loading.placeholder(),
    };
    let p = diary.person.clone();
    let last_value = diary
        .last_value_call
        .map(format::when)
        .unwrap_or_else(|| "never: book one".to_string());
    let role = [p.role.as_str(), p.organisation.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let back = session.clone();
    let owed: usize = diary
        .interactions
        .iter()
        .filter(|i| i.thank_you == ThankYouState::ToSend)
        .count();
    let pid = p.id.clone();
    let name = p.name.clone();
    let thank_session = session.clone();
    rsx! {
        article { class: "person-page", "aria-labelledby": "person-name",
            button {
                r#type: "button",
                class: "link phone-only back",
                onclick: move |_| back.go(Screen::People),
                "‹ People"
            }
            header { class: "person-head",
                h1 { id: "person-name", "{p.name}" }
                if !role.is_empty() { p { class: "meta", "{role}" } }
                if p.deleted { p { class: "error", "Deleted" } }
            }
            if !p.deleted {
                PossibleDuplicates { key: "{p.id}", id: p.id.clone(), name: p.name.clone() }
            }
            if editing_person() {
                PersonEditor { key: "{p.id}", person: p.clone(), on_close: move |_| editing_person.set(false) }
            } else {
                dl { class: "facts",
                    dt { "Last value call" }
                    dd { id: "last-value-call", "{last_value}" }
                    if !p.how_met.is_empty() {
                        dt { "How we met" }
                        dd { "{p.how_met}" }
                    }
                    if let Some(by) = p.introduced_by.clone() {
                        dt { "Introduced by" }
                        dd { PersonButton { id: by.id, name: by.name } }
                    }
                    if !diary.referrals_received.is_empty() {
                        dt { "Came through" }
                        dd {
                            for r in diary.referrals_received.clone() {
                                span { key: "{r.id}", class: "tag",
                                    {r.referrer.as_ref().map(|p| p.name.clone()).unwrap_or_default()}
                                }
                            }
                        }
                    }
                    if !p.emails.is_empty() {
                        dt { "Email" }
                        dd { {p.emails.join(", ")} }
                    }
                    if !p.phones.is_empty() {
                        dt { "Phone" }
                        dd { {p.phones.join(", ")} }
                    }
                    if !p.notes.is_empty() {
                        dt { "Notes" }
                        dd { class: "pre", "{p.notes}" }
                    }
                }
                section { class: "person-attachments", id: "person-attachments", "aria-label": "Attachments",
                    h2 { "Attachments" }
                    AttachmentList { rows: p.attachments.clone() }
                    if !p.deleted {
                        AttachControls { to: AttachmentOwner::Person(p.id.clone()), prefix: "person" }
                    }
                }
                KeepInTouch { id: p.id.clone(), name: p.name.clone(), cadence: p.cadence }
                div { class: "row-actions",
                    button {
                        r#type: "button",
                        class: "secondary",
                        onclick: move |_| editing_person.set(true),
                        "Edit details"
                    }
                    if owed > 0 {
                        button {
                            r#type: "button",
                            class: "primary",
                            onclick: move |_| thank_session.act(
                                Request::PersonThanked { id: pid.clone(), on: local_today().into() },
                                format!("Thank-you to {name} marked sent."),
                            ),
                            "Thank-you sent"
                        }
                    }
                }
            }
            if !diary.referrals_given.is_empty() {
                h2 { "They referred" }
                ul { class: "cards", id: "referrals-given",
                    for r in diary.referrals_given.clone() {
                        ReferralLine { key: "{r.id}", r }
                    }
                }
            }
            h2 { "Diary" }
            if diary.interactions.is_empty() {
                p { class: "hint", "No conversations yet." }
            }
            ol { class: "timeline", id: "diary",
                for i in diary.interactions.iter().rev().cloned() {
                    DiaryEntry { key: "{i.id}", row: i }
                }
            }
        }
    }
}

/// The value a cadence choice carries: its spelling, or off.
const OFF: &str = "off";
const OTHER: &str = "other";

/// How often to keep in touch: off, every two weeks, month or quarter, or any
/// number of days, weeks or months typed in.
#[component]
fn KeepInTouch(id: PersonId, name: String, cadence: Option<Cadence>) -> Element {
    let session = use_session();
    let mut other = use_signal(|| false);
    let mut typed = use_signal(String::new);
    let mut options = vec![ChoiceOption::new(OFF, "Off")];
    options.extend(Cadence::CHOICES.iter().map(|c| {
        let label = match *c {
            Cadence::FORTNIGHTLY => "2 weeks".to_string(),
            Cadence::MONTHLY => "Month".to_string(),
            _ => "Quarter".to_string(),
        };
        ChoiceOption::new(c.to_string(), label)
    }));
    if let Some(c) = cadence.filter(|c| !Cadence::CHOICES.contains(c)) {
        options.push(ChoiceOption::new(c.to_string(), c.describe()));
    }
    options.push(ChoiceOption::new(OTHER, "Other…"));
    let selected = if other() {
        OTHER.to_string()
    } else {
        cadence.map_or(OFF.to_string(), |c| c.to_string())
    };
    let set = {
        let session = session.clone();
        move |to: Option<Cadence>| {
            let said = match to {
                Some(c) => format!("Keeping in touch with {name} {}.", c.describe()),
                None => format!("No reminder to keep in touch with {name}."),
            };
            session.act(
                Request::EditPerson {
                    id: id.clone(),
                    edit: PersonEdit {
                        cadence: Some(to),
                        ..Default::default()
                    },
                },
                said,
            );
        }
    };
    let mut set_typed = {
        let set = set.clone();
        let session = session.clone();
        move || match typed().parse::<Cadence>() {
            Ok(c) => {
                other.set(false);
                set(Some(c));
            }
            Err(e) => session.error(e.to_string()),
        }
    };
    let mut set_typed_click = set_typed.clone();
    rsx! {
        div { class: "keep-in-touch", id: "keep-in-touch",
            Choice {
                id: "cadence",
                label: "Keep in touch every",
                options,
                selected: Some(selected),
                on_choose: move |v: String| {
                    if v == OTHER {
                        other.set(true);
                        return;
                    }
                    other.set(false);
                    set(v.parse::<Cadence>().ok());
                },
            }
            if other() {
                div { class: "inline-form",
                    TextField {
                        id: "cadence-other",
                        label: "Every (10d, 6w, 2m)",
                        placeholder: "6w",
                        on_input: move |v: String| typed.set(v),
                        on_enter: move |_| set_typed(),
                    }
                    button {
                        r#type: "button",
                        class: "secondary",
                        onclick: move |_| set_typed_click(),
                        "Set"
                    }
                }
            }
        }
    }
}

/// People who may be this person twice, each with a merge into this one behind a
/// confirmation.
#[component]
fn PossibleDuplicates(id: PersonId, name: String) -> Element {
    let Loaded::Ready(found) =
        use_query::<Vec<DuplicateSuggestion>>(Request::DuplicatesOf { person: id.clone() })
    else {
        return rsx! {};
    };
    rsx! {
        for d in found {
            DuplicateRow {
                key: "{d.keep.id}-{d.other.id}",
                keep: id.clone(),
                keep_name: name.clone(),
                suggestion: d,
            }
        }
    }
}

#[component]
fn DuplicateRow(keep: PersonId, keep_name: String, suggestion: DuplicateSuggestion) -> Element {
    let session = use_session();
    let mut confirming = use_signal(|| false);
    let other = if suggestion.keep.id == keep {
        suggestion.other.clone()
    } else {
        suggestion.keep.clone()
    };
    let reason = format::duplicate_reason(suggestion.reason);
    let (other_id, other_name) = (other.id.clone(), other.name.clone());
    rsx! {
        div { class: "duplicate", role: "group", "aria-label": "Possible duplicate",
            p {
                "Possible duplicate: "
                PersonButton { id: other.id.clone(), name: other.name.clone() }
                span { class: "meta", " ({reason})" }
            }
            if confirming() {
                p { class: "hint",
                    "Merge {other_name} into {keep_name}? Their details and conversations move here."
                }
                div { class: "row-actions",
                    button {
                        r#type: "button",
                        class: "primary",
                        onclick: move |_| {
                            confirming.set(false);
                            session.act(
                                Request::MergePeople { keep: keep.clone(), other: other_id.clone() },
                                format!("Merged {other_name} into {keep_name}."),
                            )
                        },
                        "Merge"
                    }
                    button {
                        r#type: "button",
                        class: "secondary",
                        onclick: move |_| confirming.set(false),
                        "Cancel"
                    }
                }
            } else {
                div { class: "row-actions",
                    button {
                        r#type: "button",
                        class: "secondary",
                        onclick: move |_| confirming.set(true),
                        "Merge"
                    }
                }
            }
        }
    }
}

#[component]
fn PersonButton(id: PersonId, name: String) -> Element {
    let session = use_session();
    rsx! {
        button {
            r#type: "button",
            class: "link",
            onclick: move |_| session.go(Screen::Person(id.clone())),
            "{name}"
        }
    }
}

#[component]
fn ReferralLine(r: ReferralRow) -> Element {
    rsx! {
        li { class: "card",
            div { class: "card-main",
                if let Some(pid) = r.person_id.clone() {
                    PersonButton { id: pid, name: r.name.clone() }
                } else {
                    span { class: "who", "{r.name}" }
                }
                span { class: "meta", "{format::referral_status(r.status)}" }
                if !r.reach.is_empty() { span { class: "gist", "{r.reach}" } }
            }
        }
    }
}

/// One conversation in the diary, editable in place.
#[component]
fn DiaryEntry(row: InteractionRow) -> Element {
    let session = use_session();
    let mut editing = use_signal(|| false);
    let mut attaching = use_signal(|| false);
    if editing() {
        return rsx! {
            li { class: "entry editing",
                InteractionEditor { row: row.clone(), on_close: move |_| editing.set(false) }
            }
        };
    }
    let texts = [
        ("Talked about", row.talked_about.clone()),
        ("They recommended", row.recommended.clone()),
        ("Observations", row.observations.clone()),
        ("Next step", row.next_step.clone()),
    ];
    let mut flags: Vec<String> = Vec::new();
    if row.business_discussed {
        flags.push("business discussed".into());
    }
    if row.offer_made {
        flags.push("offer made".into());
    }
    match (row.thank_you, row.thank_you_sent_on) {
        (ThankYouState::ToSend, _) => flags.push("thank-you to send".into()),
        (ThankYouState::Sent, Some(on)) => {
            flags.push(format!("thank-you sent {}", format::day(on)))
        }
        _ => {}
    }
    if let Some(on) = row.follow_up_on {
        flags.push(if row.follow_up_done {
            format!("followed up ({})", format::day(on))
        } else {
            format!("follow up {}", format::day(on))
        });
    }
    let id = row.id.clone();
    rsx! {
        li { class: "entry kind-{row.kind}",
            div { class: "entry-head",
                span { class: "badge {row.kind}", "{format::kind(row.kind)}" }
                span { class: "meta", "{format::when(row.at)} · {row.channel}" }
            }
            if let Some(ev) = row.event.clone() {
                p { class: "meta",
                    "At "
                    button {
                        r#type: "button",
                        class: "link",
                        onclick: {
                            let session = session.clone();
                            move |_| session.go(Screen::EventPage(ev.id.clone()))
                        },
                        "{ev.name}"
                    }
                }
            }
            for (label, text) in texts {
                if !text.is_empty() {
                    div { key: "{label}", class: "entry-text",
                        span { class: "label", "{label}" }
                        p { class: "pre", "{text}" }
                    }
                }
            }
            if !row.referrals.is_empty() {
                div { class: "entry-text",
                    span { class: "label", "Suggested" }
                    p {
                        for r in row.referrals.clone() {
                            span { key: "{r.id}", class: "tag", "{r.name} ({format::referral_status(r.status)})" }
                        }
                    }
                }
            }
            if !flags.is_empty() { p { class: "meta", {flags.join(" · ")} } }
            AttachmentList { rows: row.attachments.clone() }
            if attaching() {
                AttachControls {
                    to: AttachmentOwner::Conversation(row.id.clone()),
                    prefix: "entry-{format::short(&row.id)}",
                }
            }
            div { class: "row-actions",
                button {
                    r#type: "button",
                    class: "secondary",
                    onclick: move |_| editing.set(true),
                    "Edit"
                }
                button {
                    r#type: "button",
                    class: "secondary",
                    "aria-expanded": if attaching() { "true" } else { "false" },
                    onclick: move |_| attaching.set(!attaching()),
                    "Attach…"
                }
                button {
                    r#type: "button",
                    class: "link danger",
                    onclick: move |_| {
                        let (session, id) = (session.clone(), id.clone());
                        async move {
                            if session.send::<()>(Request::Delete { id: id.clone().into() }).await.is_some() {
                                session.notify(Notice { text: "Conversation deleted.".into(), error: false, undo: Some(id.into()) });
                            }
                        }
                    },
                    "Delete"
                }
            }
        }
    }
}

/// The fields of a past conversation, as a form.
#[component]
fn InteractionEditor(row: InteractionRow, on_close: EventHandler<()>) -> Element {
    let session = use_session();
    let original = row.clone();
    let mut edit = use_signal(InteractionEdit::default);
    let kind = edit().kind.unwrap_or(row.kind).as_str().to_string();
    let business = edit().business_discussed.unwrap_or(row.business_discussed);
    let offer = edit().offer_made.unwrap_or(row.offer_made);
    let thank = match &edit().thank_you {
        Some(t) => *t == ThankYou::ToSend,
        None => row.thank_you == ThankYouState::ToSend,
    };
    let follow = edit()
        .follow_up
        .unwrap_or(row.follow_up_on)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let id = row.id.clone();
    let kinds: Vec<ChoiceOption> = InteractionKind::ALL
        .iter()
        .map(|k| ChoiceOption::new(k.as_str(), format::kind(*k)))
        .collect();
    let p = format!("edit-{}", format::short(&row.id));
    rsx! {
        div { class: "form editor",
            Choice {
                id: "{p}-kind",
                label: "Kind",
                options: kinds,
                selected: Some(kind),
                on_choose: move |v: String| edit.write().kind = v.parse::<InteractionKind>().ok(),
            }
            TextArea { id: "{p}-talked", label: "Talked about", initial: row.talked_about.clone(),
                on_input: move |v| edit.write().talked_about = Some(v) }
            TextArea { id: "{p}-recommended", label: "They recommended", initial: row.recommended.clone(),
                on_input: move |v| edit.write().recommended = Some(v) }
            TextArea { id: "{p}-next", label: "Next step", rows: 2, initial: row.next_step.clone(),
                on_input: move |v| edit.write().next_step = Some(v) }
            TextArea { id: "{p}-observations", label: "Observations", rows: 2, initial: row.observations.clone(),
                on_input: move |v| edit.write().observations = Some(v) }
            div { class: "switches",
                Switch { id: "{p}-business", label: "Business discussed", on: business,
                    on_toggle: move |v| edit.write().business_discussed = Some(v) }
                Switch { id: "{p}-offer", label: "Offer made", on: offer,
                    on_toggle: move |v| edit.write().offer_made = Some(v) }
                Switch { id: "{p}-thanks", label: "Thank-you to send", on: thank,
                    on_toggle: move |v| edit.write().thank_you = Some(if v { ThankYou::ToSend } else { ThankYou::NotNeeded }) }
            }
            TextField {
                id: "{p}-follow-up",
                label: "Follow up on (empty for none)",
                kind: "date",
                initial: follow,
                on_input: move |v: String| {
                    edit.write().follow_up = Some(v.parse::<Day>().ok());
                },
            }
            div { class: "row-actions",
                button {
                    r#type: "button",
                    class: "primary",
                    onclick: move |_| {
                        let mut e = edit();
                        if e.follow_up == Some(original.follow_up_on) {
                            e.follow_up = None;
                        }
                        let (session, id) = (session.clone(), id.clone());
                        async move {
                            if session.send::<()>(Request::EditInteraction { id, edit: e }).await.is_some() {
                                session.done("Changes saved.");
                                on_close.call(());
                            }
                        }
                    },
                    "Save changes"
                }
                button { r#type: "button", class: "secondary", onclick: move |_| on_close.call(()), "Cancel" }
            }
        }
    }
}

/// A person's details, as a form.
#[component]
fn PersonEditor(
    person: aftercall_shared::queries::PersonDetail,
    on_close: EventHandler<()>,
) -> Element {
    let session = use_session();
    let mut edit = use_signal(PersonEdit::default);
    let id = person.id.clone();
    let lines = |v: String| -> Vec<String> {
        v.split([',', '\n'])
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    rsx! {
        div { class: "form editor",
            TextField { id: "person-edit-name", label: "Name", initial: person.name.clone(),
                on_input: move |v| edit.write().name = Some(v) }
            TextField { id: "person-edit-org", label: "Organisation", initial: person.organisation.clone(),
                on_input: move |v| edit.write().organisation = Some(v) }
            TextField { id: "person-edit-role", label: "Role", initial: person.role.clone(),
                on_input: move |v| edit.write().role = Some(v) }
            TextField { id: "person-edit-emails", label: "Emails (comma separated)", kind: "email", initial: person.emails.join(", "),
                on_input: move |v| edit.write().emails = Some(lines(v)) }
            TextField { id: "person-edit-phones", label: "Phones (comma separated)", kind: "tel", initial: person.phones.join(", "),
                on_input: move |v| edit.write().phones = Some(lines(v)) }
            TextArea { id: "person-edit-how-met", label: "How we met", rows: 2, initial: person.how_met.clone(),
                on_input: move |v| edit.write().how_met = Some(v) }
            TextArea { id: "person-edit-notes", label: "Notes", initial: person.notes.clone(),
                on_input: move |v| edit.write().notes = Some(v) }
            div { class: "row-actions",
                button {
                    r#type: "button",
                    class: "primary",
                    onclick: move |_| {
                        let (session, id, e) = (session.clone(), id.clone(), edit());
                        async move {
                            if session.send::<()>(Request::EditPerson { id, edit: e }).await.is_some() {
                                session.done("Details saved.");
                                on_close.call(());
                            }
                        }
                    },
                    "Save details"
                }
                button { r#type: "button", class: "secondary", onclick: move |_| on_close.call(()), "Cancel" }
            }
        }
    }
}
