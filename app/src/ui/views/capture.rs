//! Capture: the start screen. Who, what kind, what was said, what comes next,
//! saved in one tap (Ctrl/Cmd+Enter) and kept as a draft until then.

use aftercall_shared::api::Request;
use aftercall_shared::commands::{Captured, PersonRef};
use aftercall_shared::model::{Channel, InteractionKind};
use dioxus::prelude::*;

use crate::format;
use crate::ui::components::{
    Choice, ChoiceOption, FollowUpChips, PersonPicker, Picked, Switch, TextArea, TextField,
};
use crate::ui::draft::{remembered_kind, Draft, KIND_SETTING};
use crate::ui::route::Screen;
use crate::ui::session::{use_query, use_session, Loaded};

/// What the last save did, for the confirmation.
#[derive(Debug, Clone, PartialEq)]
struct Saved {
    text: String,
    /// Its kind, the next capture's default.
    kind: InteractionKind,
    person_id: Option<aftercall_shared::model::PersonId>,
}

/// The Capture screen: the form, and the confirmation of the last save.
#[component]
pub fn Capture() -> Element {
    let mut generation = use_signal(|| 0u64);
    let mut saved = use_signal(|| None::<Saved>);
    let session = use_session();
    // The kind of the last capture is the next one's default.
    let last_kind = use_query::<Option<String>>(Request::Setting {
        key: KIND_SETTING.into(),
    });
    let kind = match (saved(), last_kind) {
        (Some(s), _) => s.kind,
        (None, Loaded::Ready(kind)) => remembered_kind(kind),
        (None, other) => return other.placeholder(),
    };
    rsx! {
        section { class: "screen capture", "aria-labelledby": "capture-title",
            h1 { id: "capture-title", "Capture" }
            if let Some(s) = saved() {
                div { class: "saved", id: "saved", role: "status",
                    span { "✓ {s.text}" }
                    if let Some(id) = s.person_id.clone() {
                        button {
                            r#type: "button",
                            class: "link",
                            onclick: move |_| session.go(Screen::Person(id.clone())),
                            "Open diary"
                        }
                    }
                }
            }
            // Keyed in a list so a new generation remounts the form blank.
            for g in std::iter::once(generation()) {
                CaptureForm {
                    key: "{g}",
                    kind,
                    on_saved: move |s: Saved| {
                        saved.set(Some(s));
                        generation += 1;
                    },
                }
            }
        }
    }
}

fn kind_options() -> Vec<ChoiceOption> {
    InteractionKind::ALL
        .iter()
        .map(|k| ChoiceOption::new(k.as_str(), format::kind_choice(*k)))
        .collect()
}

fn channel_options() -> Vec<ChoiceOption> {
    Channel::ALL
        .iter()
        .map(|c| ChoiceOption::new(c.as_str(), format::channel_choice(*c)))
        .collect()
}

/// The form itself; remounted (with a new key) after each save to start blank.
#[component]
fn CaptureForm(kind: InteractionKind, on_saved: EventHandler<Saved>) -> Element {
    let session = use_session();
    let initial = use_hook({
        let platform = session.platform.clone();
        move || platform.load_draft().unwrap_or_else(|| Draft::new(kind))
    });
    let mut form = use_signal(|| initial.clone());
    let mut talked_field = use_signal(|| None::<std::rc::Rc<MountedData>>);

    // Autosave: every change is kept as the draft.
    use_effect({
        let platform = session.platform.clone();
        move || platform.keep_draft(&form.read())
    });

    let mut saving = use_signal(|| false);
    let mut save = {
        let session = session.clone();
        move || {
            let d = form();
            let capture = d.to_capture();
            if capture.people.is_empty() {
                session.error("Say who it was with: type a name first.");
                return;
            }
            // One tap, one conversation: a second tap while saving does nothing.
            if saving() {
                return;
            }
            saving.set(true);
            let session = session.clone();
            spawn(async move {
                let kind = capture.kind;
                let Some(done) = session.send::<Captured>(Request::Capture(capture)).await else {
                    saving.set(false);
                    return;
                };
                session.platform.clear_draft();
                let (person_id, name, new) = match done.people.first() {
                    Some(p) => (Some(p.id.clone()), p.name.clone(), p.created),
                    None => (None, d.person_name(), false),
                };
                let mut text = format!("Saved: {} with {name}", format::kind(kind));
                if new {
                    text.push_str(" (new person)");
                }
                on_saved.call(Saved {
                    text,
                    kind,
                    person_id,
                });
                let remember = Request::SetSetting {
                    key: KIND_SETTING.into(),
                    value: Some(kind.as_str().into()),
                };
                session.send::<()>(remember).await;
            });
        }
    };
    let mut save_click = save.clone();

    let focus_talked = move || {
        if let Some(m) = talked_field() {
            spawn(async move {
                let _ = m.set_focus(true).await;
            });
        }
    };

    let d = form.read().clone();
    let keys = d.referral_keys.clone();

    rsx! {
        div {
            class: "form",
            onkeydown: move |e: KeyboardEvent| {
                let m = e.modifiers();
                if e.key() == Key::Enter && (m.contains(Modifiers::CONTROL) || m.contains(Modifiers::META)) {
                    save();
                }
            },
            if !d.meeting_summary.is_empty() {
                p { class: "from-meeting", id: "from-meeting",
                    "From your calendar: "
                    strong { "{d.meeting_summary}" }
                    if let Some(at) = d.capture.at {
                        " · {format::when(at.timestamp_millis())}"
                    }
                }
            }
            if !d.with.is_empty() {
                div { class: "chips with", id: "with", role: "list", "aria-label": "With",
                    for (i, w) in d.with.iter().cloned().enumerate() {
                        span { key: "{i}-{w.label}", class: "chip", role: "listitem",
                            "{w.label}"
                            button {
                                r#type: "button",
                                class: "chip-remove",
                                "aria-label": "Not with {w.label}",
                                onclick: move |_| {
                                    let mut f = form.write();
                                    if i < f.with.len() {
                                        f.with.remove(i);
                                    }
                                },
                                "×"
                            }
                        }
                    }
                }
            }
            PersonPicker {
                label: (!d.with.is_empty()).then(|| "Anyone else?".to_string()),
                exclude: d.with.iter().filter_map(|w| match &w.person {
                    PersonRef::Existing(id) => Some(id.clone()),
                    _ => None,
                }).collect::<Vec<_>>(),
                initial_text: initial.person_text.clone(),
                picked: d.person_picked.clone(),
                on_text: move |v: String| {
                    let mut f = form.write();
                    f.person_text = v;
                    f.person_picked = None;
                },
                on_pick: move |p: Picked| {
                    {
                        let mut f = form.write();
                        match p {
                            Picked::Existing(id, name) => {
                                f.person_text = name.clone();
                                f.person_picked = Some((id, name));
                            }
                            Picked::New(name) => {
                                f.person_text = name;
                                f.person_picked = None;
                            }
                        }
                    }
                    focus_talked();
                },
            }
            Choice {
                id: "kind",
                label: "Kind",
                options: kind_options(),
                selected: Some(d.capture.kind.as_str().to_string()),
                on_choose: move |v: String| {
                    if let Ok(k) = v.parse() {
                        form.write().capture.kind = k;
                    }
                },
            }
            TextArea {
                id: "talked-about",
                label: "Talked about",
                initial: initial.capture.talked_about.clone(),
                on_input: move |v: String| form.write().capture.talked_about = v,
                on_mounted: move |m: MountedEvent| talked_field.set(Some(m.data())),
            }
            TextArea {
                id: "recommended",
                label: "They recommended",
                initial: initial.capture.recommended.clone(),
                on_input: move |v: String| form.write().capture.recommended = v,
            }
            TextArea {
                id: "next-step",
                label: "Next step",
                rows: 2,
                initial: initial.capture.next_step.clone(),
                on_input: move |v: String| form.write().capture.next_step = v,
            }
            TextArea {
                id: "observations",
                label: "Observations",
                rows: 2,
                initial: initial.capture.observations.clone(),
                on_input: move |v: String| form.write().capture.observations = v,
            }
            Choice {
                id: "channel",
                label: "How",
                options: channel_options(),
                selected: Some(d.capture.channel.as_str().to_string()),
                on_choose: move |v: String| {
                    if let Ok(c) = v.parse() {
                        form.write().capture.channel = c;
                    }
                },
            }
            div { class: "switches",
                Switch {
                    id: "business",
                    label: "Business discussed",
                    on: d.capture.business_discussed,
                    on_toggle: move |v| form.write().capture.business_discussed = v,
                }
                Switch {
                    id: "offer",
                    label: "Offer made",
                    on: d.capture.offer_made,
                    on_toggle: move |v| form.write().capture.offer_made = v,
                }
                Switch {
                    id: "thank-you",
                    label: "Thank-you to send",
                    on: d.capture.thank_you,
                    on_toggle: move |v| form.write().capture.thank_you = v,
                }
            }
            FollowUpChips {
                id: "follow-up",
                selected: d.capture.follow_up,
                on_choose: move |v| form.write().capture.follow_up = v,
            }
            fieldset { class: "referrals",
                legend { "Referrals" }
                for (n, key) in keys.into_iter().enumerate() {
                    ReferralRow {
                        initial_name: initial_referral(&initial, key).0,
                        initial_reach: initial_referral(&initial, key).1,
                        key: "{key}",
                        row: key,
                        number: n + 1,
                        form,
                    }
                }
                button {
                    r#type: "button",
                    id: "add-referral",
                    class: "secondary",
                    onclick: move |_| form.write().add_referral(),
                    "+ Add someone they suggested"
                }
            }
            div { class: "save-bar",
                button {
                    r#type: "button",
                    id: "save",
                    class: "primary",
                    onclick: move |_| save_click(),
                    "Save"
                }
                span { class: "hint wide-only", "or Ctrl+Enter" }
                span { class: "hint", id: "save-limit", "{SAVE_LIMIT_HINT}" }
            }
        }
    }
}

/// The text a referral row had in the draft the form was opened with.
fn initial_referral(initial: &Draft, key: u64) -> (String, String) {
    initial
        .referral_keys
        .iter()
        .position(|k| *k == key)
        .and_then(|i| initial.capture.referrals.get(i))
        .map(|r| (r.name.clone(), r.reach.clone()))
        .unwrap_or_default()
}

/// One referral: who, and what the referrer agreed to.
#[component]
fn ReferralRow(
    row: u64,
    number: usize,
    initial_name: String,
    initial_reach: String,
    form: Signal<Draft>,
) -> Element {
    let mut form = form;
    let current = form
        .read()
        .referral_keys
        .iter()
        .position(|k| *k == row)
        .and_then(|i| form.read().capture.referrals.get(i).cloned())
        .unwrap_or_default();
    rsx! {
        div { class: "referral", id: "referral-{number}",
            TextField {
                id: "referral-{number}-name",
                label: "Name of referral {number}",
                initial: initial_name,
                on_input: move |v: String| {
                    if let Some(r) = form.write().referral_mut(row) {
                        r.name = v;
                    }
                },
            }
            TextField {
                id: "referral-{number}-reach",
                label: "How and when to reach them",
                initial: initial_reach,
                on_input: move |v: String| {
                    if let Some(r) = form.write().referral_mut(row) {
                        r.reach = v;
                    }
                },
            }
            Switch {
                id: "referral-{number}-introduce",
                label: "Will introduce me",
                on: current.will_introduce,
                on_toggle: move |v| {
                    if let Some(r) = form.write().referral_mut(row) {
                        r.will_introduce = v;
                    }
                },
            }
            Switch {
                id: "referral-{number}-tell",
                label: "Will tell them I'll call",
                on: current.will_tell,
                on_toggle: move |v| {
                    if let Some(r) = form.write().referral_mut(row) {
                        r.will_tell = v;
                    }
                },
            }
            Switch {
                id: "referral-{number}-name-ok",
                label: "May use their name",
                on: current.may_use_name,
                on_toggle: move |v| {
                    if let Some(r) = form.write().referral_mut(row) {
                        r.may_use_name = v;
                    }
                },
            }
            button {
                r#type: "button",
                class: "link",
                onclick: move |_| form.write().remove_referral(row),
                "Remove referral {number}"
            }
        }
    }
}

/// The size one save may take, as the capture screen states it.
const SAVE_LIMIT_HINT: &str = "up to 1 MB of notes per save";
