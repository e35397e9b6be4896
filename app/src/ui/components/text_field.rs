//! Labelled text inputs that never lose a keystroke.
//!
//! The inputs are uncontrolled: the page owns the text and the app only listens.
//! The app never writes a value back while the user types, so however fast the
//! keys come (and however slow the round trip in browser mode) no character is
//! dropped or reordered. A form is reset by remounting it with a new key.

use dioxus::prelude::*;

/// A one-line labelled text input.
#[component]
pub fn TextField(
    id: String,
    label: String,
    #[props(default)] initial: String,
    #[props(default)] placeholder: String,
    #[props(default = "text".to_string())] kind: String,
    #[props(default)] autofocus: bool,
    on_input: EventHandler<String>,
    #[props(default)] on_enter: Option<EventHandler<()>>,
    #[props(default)] on_mounted: Option<EventHandler<MountedEvent>>,
) -> Element {
    let initial = use_hook(|| initial.clone());
    rsx! {
        div { class: "field",
            label { r#for: "{id}", "{label}" }
            input {
                id: "{id}",
                r#type: "{kind}",
                initial_value: "{initial}",
                placeholder: "{placeholder}",
                autocomplete: "off",
                autofocus: autofocus,
                oninput: move |e: FormEvent| on_input.call(e.value()),
                onkeydown: move |e: KeyboardEvent| {
                    if e.key() == Key::Enter && e.modifiers().is_empty() {
                        if let Some(h) = on_enter {
                            h.call(());
                        }
                    }
                },
                onmounted: move |e: MountedEvent| {
                    if let Some(h) = on_mounted {
                        h.call(e.clone());
                    }
                    if autofocus {
                        let data = e.data();
                        spawn(async move {
                            let _ = data.set_focus(true).await;
                        });
                    }
                },
            }
        }
    }
}

/// A labelled multi-line text area of fixed height (it scrolls rather than grows,
/// so nothing below it jumps while typing).
#[component]
pub fn TextArea(
    id: String,
    label: String,
    #[props(default)] initial: String,
    #[props(default)] placeholder: String,
    #[props(default = 3)] rows: u32,
    on_input: EventHandler<String>,
    #[props(default)] on_mounted: Option<EventHandler<MountedEvent>>,
) -> Element {
    let initial = use_hook(|| initial.clone());
    rsx! {
        div { class: "field",
            label { r#for: "{id}", "{label}" }
            textarea {
                id: "{id}",
                rows: "{rows}",
                initial_value: "{initial}",
                placeholder: "{placeholder}",
                oninput: move |e: FormEvent| on_input.call(e.value()),
                onmounted: move |e: MountedEvent| {
                    if let Some(h) = on_mounted {
                        h.call(e);
                    }
                },
            }
        }
    }
}
