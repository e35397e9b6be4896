//! What a screen says when it has nothing to show, and what to do about it.

use dioxus::prelude::*;

use crate::ui::route::Screen;
use crate::ui::session::use_session;

/// An empty state with a hint and an optional button to the screen that fills it.
#[component]
pub fn EmptyState(
    title: String,
    hint: String,
    #[props(default)] action: Option<(String, Screen)>,
) -> Element {
    let session = use_session();
    rsx! {
        div { class: "empty",
            p { class: "empty-title", "{title}" }
            p { class: "empty-hint", "{hint}" }
            if let Some((label, screen)) = action {
                button {
                    r#type: "button",
                    class: "primary",
                    onclick: move |_| session.go(screen.clone()),
                    "{label}"
                }
            }
        }
    }
}
