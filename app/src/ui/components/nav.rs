//! The navigation: a bottom bar on a phone, a side bar on a wide window.

use dioxus::prelude::*;

use crate::ui::route::Section;
use crate::ui::session::use_session;

/// The navigation bar.
#[component]
pub fn Nav() -> Element {
    let session = use_session();
    let current = (session.screen)().section();
    rsx! {
        nav { class: "nav", "aria-label": "Screens",
            div { class: "brand", "Aftercall" }
            for section in Section::ALL {
                button {
                    key: "{section.slug()}",
                    id: "nav-{section.slug()}",
                    r#type: "button",
                    class: nav_class(section),
                    "aria-current": if section == current { "page" } else { "false" },
                    onclick: {
                        let session = session.clone();
                        move |_| session.go(section.screen())
                    },
                    span { class: "nav-icon", "aria-hidden": "true", "{section.icon()}" }
                    span { class: "nav-label", "{section.label()}" }
                }
            }
        }
    }
}

/// Which sizes show an entry: the bottom bar holds four screens and "More".
fn nav_class(section: Section) -> &'static str {
    if section == Section::More {
        "nav-item phone-only"
    } else if section.on_phone_bar() {
        "nav-item"
    } else {
        "nav-item wide-only"
    }
}
