//! The capture form's person field: type a few letters, matching people appear
//! (recent first) in a row of fixed height below; Enter or a tap picks one, or
//! keeps the typed name as a new person.

use aftercall_shared::api::Request;
use aftercall_shared::fold::name_key;
use aftercall_shared::model::PersonId;
use aftercall_shared::queries::PersonSummary;
use dioxus::prelude::*;

use super::TextField;
use crate::ui::session::use_query_exact;

/// What the user picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picked {
    /// Someone already in their people: (id, name).
    Existing(PersonId, String),
    /// A new person with the typed name.
    New(String),
}

/// How many suggestions show at once.
const SUGGESTIONS: usize = 6;

/// The person field with its suggestions.
#[component]
pub fn PersonPicker(
    initial_text: String,
    picked: Option<(PersonId, String)>,
    on_text: EventHandler<String>,
    on_pick: EventHandler<Picked>,
    /// The field's label ("Who was it with?" unless said otherwise).
    #[props(default)]
    label: Option<String>,
    /// People already with the conversation, not suggested again.
    #[props(default)]
    exclude: Vec<PersonId>,
) -> Element {
    let mut typed = use_signal(|| initial_text.clone());
    let mut generation = use_signal(|| 0u32);
    let mut highlight = use_signal(|| 0usize);

    let text = typed();
    // Nothing is asked while a person is picked.
    let asked = use_query_exact::<Vec<PersonSummary>>(Request::PeopleNamedLike {
        typed: if picked.is_some() {
            String::new()
        } else {
            text.clone()
        },
        limit: if picked.is_some() { 0 } else { SUGGESTIONS },
    });
    let suggestions = if picked.is_some() {
        Vec::new()
    } else {
        asked.ready().unwrap_or_default()
    };
    let exact = suggestions
        .iter()
        .any(|p| name_key(&p.name) == name_key(&text));
    let mut options: Vec<Picked> = suggestions
        .iter()
        .filter(|p| !exclude.contains(&p.id))
        .map(|p| Picked::Existing(p.id.clone(), p.name.clone()))
        .collect();
    if !text.trim().is_empty() && !exact {
        options.push(Picked::New(text.trim().to_string()));
    }
    let count = options.len();
    let current = if count == 0 {
        0
    } else {
        highlight().min(count - 1)
    };

    let mut choose = move |p: Picked| {
        if let Picked::Existing(_, name) = &p {
            typed.set(name.clone());
            generation += 1;
        }
        highlight.set(0);
        on_pick.call(p);
    };
    let keyed_options = options.clone();

    rsx! {
        div {
            class: "person-picker",
            onkeydown: move |e: KeyboardEvent| {
                match e.key() {
                    Key::ArrowDown | Key::ArrowRight if count > 0 && e.modifiers().is_empty() => {
                        highlight.set((current + 1) % count);
                    }
                    Key::ArrowUp | Key::ArrowLeft if count > 0 && e.modifiers().is_empty() => {
                        highlight.set((current + count - 1) % count);
                    }
                    _ => {}
                }
            },
            for g in std::iter::once(generation()) {
            TextField {
                key: "{g}",
                id: "person",
                label: label.clone().unwrap_or_else(|| "Who was it with?".to_string()),
                placeholder: "Type a name",
                initial: typed(),
                autofocus: true,
                on_input: move |v: String| {
                    typed.set(v.clone());
                    highlight.set(0);
                    on_text.call(v);
                },
                on_enter: {
                    let keyed_options = keyed_options.clone();
                    move |_| {
                        if let Some(p) = keyed_options.get(current).cloned() {
                            choose(p);
                        }
                    }
                },
            }
            }
            div { class: "suggestions", id: "person-suggestions", "aria-label": "Matching people",
                if let Some((_, name)) = &picked {
                    span { class: "picked", id: "person-picked", "✓ {name}" }
                } else if options.is_empty() {
                    span { class: "hint", "Type a name: someone new is added when you save." }
                } else {
                    for (i, p) in options.into_iter().enumerate() {
                        button {
                            key: "{i}",
                            r#type: "button",
                            class: "chip",
                            "aria-pressed": "{i == current}",
                            onclick: {
                                let p = p.clone();
                                move |_| choose(p.clone())
                            },
                            match &p {
                                Picked::Existing(_, name) => rsx! { "{name}" },
                                Picked::New(name) => rsx! { "+ New: {name}" },
                            }
                        }
                    }
                }
            }
        }
    }
}
