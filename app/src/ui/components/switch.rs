//! A labelled on/off switch and a one-of-several choice, as large touch targets.

use dioxus::prelude::*;

/// An on/off switch: the whole row is the touch target.
#[component]
pub fn Switch(id: String, label: String, on: bool, on_toggle: EventHandler<bool>) -> Element {
    rsx! {
        button {
            id: "{id}",
            class: "switch",
            r#type: "button",
            role: "switch",
            "aria-checked": "{on}",
            onclick: move |_| on_toggle.call(!on),
            span { class: "switch-track", span { class: "switch-knob" } }
            span { class: "switch-label", "{label}" }
        }
    }
}

/// One option of a [`Choice`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceOption {
    pub value: String,
    pub label: String,
}

impl ChoiceOption {
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Self {
        ChoiceOption {
            value: value.into(),
            label: label.into(),
        }
    }
}

/// A labelled row of options of which one (or, when `optional`, none) is chosen.
#[component]
pub fn Choice(
    id: String,
    label: String,
    options: Vec<ChoiceOption>,
    selected: Option<String>,
    on_choose: EventHandler<String>,
) -> Element {
    rsx! {
        div { class: "field",
            span { class: "label", id: "{id}-label", "{label}" }
            div {
                class: "segmented",
                role: "radiogroup",
                "aria-labelledby": "{id}-label",
                for opt in options {
                    button {
                        key: "{opt.value}",
                        id: "{id}-{opt.value}",
                        r#type: "button",
                        role: "radio",
                        "aria-checked": "{selected.as_deref() == Some(opt.value.as_str())}",
                        onclick: {
                            let v = opt.value.clone();
                            move |_| on_choose.call(v.clone())
                        },
                        "{opt.label}"
                    }
                }
            }
        }
    }
}
