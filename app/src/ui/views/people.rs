//! People: everyone, with instant search over names and every note; on a wide
//! window the selected person's diary sits beside the list.

use aftercall_shared::api::Request;
use aftercall_shared::fold::search_terms;
use aftercall_shared::model::PersonId;
use aftercall_shared::queries::{Diary, PersonSummary};
use dioxus::prelude::*;

use super::person::PersonPage;
use crate::format;
use crate::ui::components::{excerpt, EmptyState, Highlight, TextField};
use crate::ui::route::Screen;
use crate::ui::session::{use_query, use_session, Loaded};

/// How many people the list shows.
const LIMIT: usize = 200;
/// How many results get an excerpt of the note that matched.
const EXCERPTS: usize = 20;

/// The first piece of a person's notes or conversations that matches the search.
pub fn matching_excerpt(diary: &Diary, terms: &[String]) -> Option<String> {
    let p = &diary.person;
    let own = [&p.organisation, &p.role, &p.how_met, &p.notes];
    own.into_iter()
        .map(String::as_str)
        .chain(diary.interactions.iter().rev().flat_map(|i| {
            [
                i.talked_about.as_str(),
                i.recommended.as_str(),
                i.observations.as_str(),
                i.next_step.as_str(),
            ]
        }))
        .chain(diary.referrals_given.iter().map(|r| r.name.as_str()))
        .find_map(|text| excerpt(text, terms, 70))
}

/// The People screen; `selected` is the person whose page is open.
#[component]
pub fn People(selected: Option<PersonId>) -> Element {
    let session = use_session();
    let mut query = use_signal(String::new);
    let q = query();
    let terms = search_terms(&q);
    let asked = use_query::<Vec<PersonSummary>>(if terms.is_empty() {
        Request::People { limit: LIMIT }
    } else {
        Request::SearchPeople {
            query: q.clone(),
            limit: LIMIT,
        }
    });
    let people = match asked {
        Loaded::Ready(people) => people,
        other => return other.placeholder(),
    };
    let has_selection = selected.is_some();
    let count = people.len();
    rsx! {
        section {
            class: if has_selection { "screen people split has-detail" } else { "screen people split" },
            div { class: "list-pane",
                h1 { id: "people-title", "People" }
                div { class: "search",
                    TextField {
                        id: "search",
                        label: "Search names and notes",
                        kind: "search",
                        placeholder: "A name, a company, a word from a note",
                        on_input: move |v: String| query.set(v),
                    }
                }
                if people.is_empty() {
                    if terms.is_empty() {
                        EmptyState {
                            title: "No people yet.",
                            hint: "Everyone you capture a call with is listed here.",
                            action: Some(("Capture a call".to_string(), Screen::Capture)),
                        }
                    } else {
                        EmptyState {
                            title: "Nobody matches “{q}”.",
                            hint: "Search looks at names and every note: try the start of another word.",
                        }
                    }
                } else {
                    p { class: "meta", id: "people-count", "{count} shown" }
                }
                ul { class: "people-list", id: "people-list",
                    for (i, p) in people.into_iter().enumerate() {
                        li { key: "{p.id}",
                            button {
                                r#type: "button",
                                class: "person-row",
                                "aria-current": if selected.as_ref() == Some(&p.id) { "true" } else { "false" },
                                onclick: {
                                    let session = session.clone();
                                    let id = p.id.clone();
                                    move |_| session.go(Screen::Person(id.clone()))
                                },
                                span { class: "who", Highlight { text: p.name.clone(), terms: terms.clone() } }
                                span { class: "meta",
                                    if !p.organisation.is_empty() {
                                        Highlight { text: format!("{} · ", p.organisation), terms: terms.clone() }
                                    }
                                    {summary_line(&p)}
                                }
                                if !terms.is_empty() && i < EXCERPTS {
                                    MatchingExcerpt { person: p.id.clone(), terms: terms.clone() }
                                }
                            }
                        }
                    }
                }
            }
            div { class: "detail-pane",
                if let Some(id) = selected {
                    for id in std::iter::once(id) {
                        PersonPage { key: "{id}", id: id.clone() }
                    }
                } else {
                    div { class: "wide-only",
                        EmptyState {
                            title: "Pick someone.",
                            hint: "Their diary, who introduced them and whom they referred show here.",
                        }
                    }
                }
            }
        }
    }
}

/// The piece of a found person's notes that matched, highlighted.
#[component]
fn MatchingExcerpt(person: PersonId, terms: Vec<String>) -> Element {
    let diary = use_query::<Diary>(Request::Diary { person });
    match diary.ready().and_then(|d| matching_excerpt(&d, &terms)) {
        Some(ex) => rsx! { span { class: "gist", Highlight { text: ex, terms: terms.clone() } } },
        None => rsx! {},
    }
}

/// "3 conversations · last Mon 23 Nov".
pub fn summary_line(p: &PersonSummary) -> String {
    let n = match p.conversations {
        0 => "no conversations yet".to_string(),
        1 => "1 conversation".to_string(),
        n => format!("{n} conversations"),
    };
    match p.last_at.and_then(format::local_date) {
        Some(d) => format!("{n} · last {}", format::day(d.into())),
        None => n,
    }
}
