//! More: on a phone, the screens that do not fit the bottom bar.

use dioxus::prelude::*;

use crate::ui::route::Section;
use crate::ui::session::use_session;

/// The More screen.
#[component]
pub fn More() -> Element {
    let session = use_session();
    rsx! {
        section { class: "screen more", "aria-labelledby": "more-title",
            h1 { id: "more-title", "More" }
            ul { class: "cards",
                for section in [Section::Event, Section::Sync, Section::Transfer] {
                    li { key: "{section.slug()}", class: "card",
                        button {
                            r#type: "button",
                            id: "more-{section.slug()}",
                            class: "card-main link",
                            onclick: {
                                let session = session.clone();
                                move |_| session.go(section.screen())
                            },
                            span { class: "who", "{section.icon()}  {section.label()}" }
                        }
                    }
                }
            }
        }
    }
}
