//! Attachments on a person or a conversation: the list with thumbnails for images,
//! opening one at full size, saving and removing it; and the controls that attach a
//! file (on a phone, a photo from the camera) or pasted text.

use aftercall_shared::api::Request;
use aftercall_shared::model::{AttachmentKind, AttachmentOwner, MediaType, MAX_ATTACHMENT_BYTES};
use aftercall_shared::queries::{AttachmentContent, AttachmentRow};
use base64::Engine;
use dioxus::prelude::*;

use super::{picked_file, PickError, TextArea};
use crate::platform::Saved;
use crate::ui::session::{use_query, use_session, Loaded};

/// Images larger than this show an icon rather than a thumbnail drawn from their bytes.
const THUMBNAIL_MAX_BYTES: u64 = 12 * 1024 * 1024;

/// `bytes` as a `data:` URL of type `media_type`.
fn data_url(media_type: &MediaType, bytes: &[u8]) -> String {
    format!(
        "data:{media_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// A size as a person reads it.
pub fn size_text(bytes: u64) -> String {
    if bytes < 1_000 {
        format!("{bytes} B")
    } else if bytes < 1_000_000 {
        format!("{:.0} kB", bytes as f64 / 1_000.0)
    } else {
        format!("{:.1} MB", bytes as f64 / 1_000_000.0)
    }
}

/// What stands for an attachment with no thumbnail: its file's extension ("PDF",
/// "JPG"), else its kind.
fn badge(row: &AttachmentRow) -> String {
    let ext = row
        .name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_uppercase())
        .filter(|e| !e.is_empty() && e.len() <= 4 && e.chars().all(|c| c.is_ascii_alphanumeric()));
    ext.unwrap_or_else(|| {
        match row.kind {
            AttachmentKind::Image => "IMG",
            AttachmentKind::Text => "TXT",
            AttachmentKind::Pdf => "PDF",
            AttachmentKind::Other => "FILE",
        }
        .to_string()
    })
}

/// Some attachments, each with its thumbnail or icon and its actions.
#[component]
pub fn AttachmentList(rows: Vec<AttachmentRow>) -> Element {
    if rows.is_empty() {
        return rsx! {};
    }
    rsx! {
        ul { class: "attachments",
            for row in rows {
                AttachmentItem { key: "{row.id}", row }
            }
        }
    }
}

#[component]
fn AttachmentItem(row: AttachmentRow) -> Element {
    let session = use_session();
    let mut open = use_signal(|| false);
    let mut confirming = use_signal(|| false);
    let short = &row.id.as_str()[..row.id.as_str().len().min(8)];
    let icon = badge(&row);
    let thumbnail =
        row.downloaded && row.kind == AttachmentKind::Image && row.size <= THUMBNAIL_MAX_BYTES;
    let (name, id) = (row.name.clone(), row.id.clone());
    let remove_session = session.clone();
    rsx! {
        li { class: "attachment", id: "attachment-{short}", "data-name": "{row.name}",
            div { class: "attachment-main",
                if thumbnail {
                    Thumbnail { row: row.clone() }
                } else {
                    span { class: "attachment-icon", "aria-hidden": "true", "{icon}" }
                }
                div { class: "attachment-text",
                    span { class: "attachment-name", "{row.name}" }
                    span { class: "meta",
                        "{size_text(row.size)}"
                        if !row.downloaded { " · Not downloaded yet" }
                    }
                }
            }
            div { class: "row-actions",
                button {
                    r#type: "button",
                    class: "secondary",
                    "aria-expanded": if open() { "true" } else { "false" },
                    onclick: move |_| open.set(!open()),
                    if open() { "Close" } else { "Open" }
                }
                if confirming() {
                    span { class: "hint", "Remove {name}?" }
                    button {
                        r#type: "button",
                        class: "primary danger",
                        onclick: move |_| {
                            confirming.set(false);
                            remove_session.act(
                                Request::RemoveAttachment { id: id.clone() },
                                format!("Removed {name}."),
                            );
                        },
                        "Remove"
                    }
                    button {
                        r#type: "button",
                        class: "secondary",
                        onclick: move |_| confirming.set(false),
                        "Cancel"
                    }
                } else {
                    button {
                        r#type: "button",
                        class: "link danger",
                        onclick: move |_| confirming.set(true),
                        "Remove"
                    }
                }
            }
            if open() {
                OpenAttachment { row: row.clone() }
            }
        }
    }
}

/// An image's thumbnail, drawn from its bytes.
#[component]
fn Thumbnail(row: AttachmentRow) -> Element {
    let Loaded::Ready(opened) =
        use_query::<AttachmentContent>(Request::OpenAttachment { id: row.id.clone() })
    else {
        return rsx! { span { class: "attachment-icon", "aria-hidden": "true", {badge(&row)} } };
    };
    let Some(bytes) = opened.content else {
        return rsx! { span { class: "attachment-icon", "aria-hidden": "true", {badge(&row)} } };
    };
    rsx! {
        img {
            class: "thumbnail",
            alt: "{row.name}",
            src: data_url(&row.media_type, &bytes),
        }
    }
}

/// An attachment opened: an image at full size, text as text, anything else to save;
/// content not here yet says so (opening it asked the sync to fetch it).
#[component]
fn OpenAttachment(row: AttachmentRow) -> Element {
    let session = use_session();
    let mut download = use_signal(|| None::<String>);
    let opened =
        match use_query::<AttachmentContent>(Request::OpenAttachment { id: row.id.clone() }) {
            Loaded::Ready(opened) => opened,
            other => return other.placeholder(),
        };
    let Some(bytes) = opened.content else {
        return rsx! {
            p { class: "hint attachment-missing", role: "status",
                "Not downloaded yet: it will be fetched at the next sync."
            }
        };
    };
    let url = data_url(&row.media_type, &bytes);
    let text =
        (row.kind == AttachmentKind::Text).then(|| String::from_utf8_lossy(&bytes).into_owned());
    let name = row.name.clone();
    let save_bytes = bytes.clone();
    rsx! {
        div { class: "attachment-open", role: "group", "aria-label": "{row.name}",
            match row.kind {
                AttachmentKind::Image => rsx! {
                    img { class: "full-size", alt: "{row.name}", src: "{url}" }
                },
                _ => rsx! {},
            }
            if let Some(text) = text {
                pre { class: "pre attachment-body", "{text}" }
            }
            div { class: "row-actions",
                if session.platform.has_file_paths() {
                    button {
                        r#type: "button",
                        class: "secondary",
                        onclick: move |_| {
                            let (session, name, bytes) = (session.clone(), name.clone(), save_bytes.clone());
                            async move {
                                match session.platform.save_file(&name, &bytes).await {
                                    Ok(Saved::Written(path)) => session.done(format!("Saved to {}.", path.display())),
                                    Ok(Saved::Cancelled) => {}
                                    Ok(Saved::Download) => download.set(Some(name)),
                                    Err(e) => session.error(e),
                                }
                            }
                        },
                        "Save"
                    }
                }
                a { class: "button secondary", href: "{url}", download: "{row.name}", "Download" }
            }
            if let Some(saved) = download() {
                p { class: "hint", "Use Download to keep {saved}." }
            }
        }
    }
}

/// "Attach" and "Paste text" for a person or a conversation. `prefix` makes the
/// inputs' ids unique on the page.
#[component]
pub fn AttachControls(to: AttachmentOwner, prefix: String) -> Element {
    let session = use_session();
    let mut pasting = use_signal(|| false);
    let mut pasted = use_signal(String::new);
    let mut busy = use_signal(|| false);
    let file_id = format!("{prefix}-attach-file");
    let photo_id = format!("{prefix}-attach-photo");
    let attach = {
        let session = session.clone();
        let to = to.clone();
        move |evt: FormEvent, input: String| {
            let (session, to) = (session.clone(), to.clone());
            spawn(async move {
                busy.set(true);
                let file = match picked_file(&evt, &input, MAX_ATTACHMENT_BYTES).await {
                    Ok(Some(file)) => file,
                    Ok(None) => {
                        busy.set(false);
                        return;
                    }
                    Err(PickError::TooLarge(size)) => {
                        busy.set(false);
                        session.error(format!(
                            "this file is {}; an attachment may be at most {} MB",
                            size_text(size),
                            MAX_ATTACHMENT_BYTES / (1024 * 1024)
                        ));
                        return;
                    }
                    Err(PickError::Unreadable(e)) => {
                        busy.set(false);
                        session.error(e);
                        return;
                    }
                };
                let media_type = file
                    .media_type
                    .as_deref()
                    .and_then(|t| t.parse::<MediaType>().ok())
                    .unwrap_or_else(|| MediaType::guess(&file.name));
                let name = file.name.clone();
                let done = session
                    .send::<AttachmentRow>(Request::Attach {
                        to,
                        name: file.name,
                        media_type,
                        content: file.bytes,
                    })
                    .await;
                busy.set(false);
                if let Some(row) = done {
                    session.done(format!("Attached {} ({}).", row.name, size_text(row.size)));
                } else {
                    tracing::debug!("attaching {name} failed");
                }
            });
        }
    };
    let attach_photo = attach.clone();
    let (file_input, photo_input) = (file_id.clone(), photo_id.clone());
    let keep_text = {
        let session = session.clone();
        let to = to.clone();
        move |_| {
            let text = pasted();
            let (session, to) = (session.clone(), to.clone());
            spawn(async move {
                if let Some(row) = session
                    .send::<AttachmentRow>(Request::AttachText { to, text })
                    .await
                {
                    pasting.set(false);
                    pasted.set(String::new());
                    session.done(format!("Kept {}.", row.name));
                }
            });
        }
    };
    rsx! {
        div { class: "attach-controls",
            div { class: "row-actions",
                label { class: "button secondary file-button", r#for: "{file_id}",
                    if busy() { "Attaching…" } else { "Attach" }
                }
                input {
                    id: "{file_id}",
                    class: "visually-hidden",
                    r#type: "file",
                    disabled: busy(),
                    accept: "image/*,*/*",
                    onchange: move |evt| attach(evt, file_input.clone()),
                }
                label { class: "button secondary file-button phone-only", r#for: "{photo_id}", "Photo" }
                input {
                    id: "{photo_id}",
                    class: "visually-hidden",
                    r#type: "file",
                    disabled: busy(),
                    accept: "image/*",
                    "capture": "environment",
                    onchange: move |evt| attach_photo(evt, photo_input.clone()),
                }
                button {
                    r#type: "button",
                    class: "secondary",
                    "aria-expanded": if pasting() { "true" } else { "false" },
                    onclick: move |_| pasting.set(!pasting()),
                    "Paste text"
                }
            }
            if pasting() {
                div { class: "form",
                    TextArea {
                        id: "{prefix}-paste",
                        label: "Text to keep (an email thread)",
                        rows: 6,
                        on_input: move |v| pasted.set(v),
                    }
                    div { class: "row-actions",
                        button { r#type: "button", class: "primary", onclick: keep_text, "Keep text" }
                        button { r#type: "button", class: "secondary", onclick: move |_| pasting.set(false), "Cancel" }
                    }
                }
            }
        }
    }
}
