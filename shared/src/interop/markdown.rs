//! The diary as Markdown, readable in any notes app: one file per person, or one
//! file for everyone.

use chrono::{DateTime, Utc};

use crate::model::{InteractionKind, ThankYouState};
use crate::queries::{AttachmentRow, Diary, InteractionRow};
use crate::{Result, Store};

/// How the diary is split into files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MarkdownLayout {
    /// One file per person.
    #[default]
    PerPerson,
    /// One file for everyone.
    OneFile,
}

/// One Markdown file of the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiaryFile {
    /// A file name safe on every system, ending in `.md`.
    pub name: String,
    pub text: String,
}

impl Store {
    /// Every live person's diary as Markdown.
    pub fn export_diary_markdown(&self, layout: MarkdownLayout) -> Result<Vec<DiaryFile>> {
        let people = self.people_documents(None)?;
        let mut files = Vec::with_capacity(people.len());
        for (id, _) in &people {
            let diary = self.diary(&id.as_str().into())?;
            files.push(DiaryFile {
                name: format!("{}-{}.md", slug(&diary.person.name), &id[..id.len().min(8)]),
                text: person_page(&diary, 1),
            });
        }
        Ok(match layout {
            MarkdownLayout::PerPerson => files,
            MarkdownLayout::OneFile => {
                let mut text = String::from("# Aftercall diary\n\n");
                for (id, _) in &people {
                    text.push_str(&person_page(&self.diary(&id.as_str().into())?, 2));
                    text.push('\n');
                }
                vec![DiaryFile {
                    name: "aftercall-diary.md".into(),
                    text,
                }]
            }
        })
    }
}

impl Store {
    /// The attachments the Markdown export links whose content is here, each with the
    /// path its link names (relative to the Markdown files): what to write beside them.
    pub fn markdown_attachments(&self) -> Result<Vec<(String, AttachmentRow)>> {
        let mut out: Vec<(String, AttachmentRow)> = Vec::new();
        for (id, _) in &self.people_documents(None)? {
            let diary = self.diary(&id.as_str().into())?;
            let rows = diary
                .person
                .attachments
                .iter()
                .chain(diary.interactions.iter().flat_map(|i| &i.attachments));
            for row in rows {
                if row.downloaded && !out.iter().any(|(_, known)| known.id == row.id) {
                    out.push((attachment_path(row), row.clone()));
                }
            }
        }
        Ok(out)
    }
}

/// Where the Markdown export links an attachment, relative to its files:
/// `attachments/ID8-name.ext`, safe on every system and in a link.
pub fn attachment_path(a: &AttachmentRow) -> String {
    let (stem, ext) = match a.name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext)),
        _ => (a.name.as_str(), None),
    };
    let ext: String = ext
        .map(|e| {
            e.chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect()
        })
        .unwrap_or_default();
    let id = a.id.as_str();
    let mut path = format!("attachments/{}-{}", &id[..id.len().min(8)], slug(stem));
    if !ext.is_empty() {
        path.push('.');
        path.push_str(&ext.to_ascii_lowercase());
    }
    path
}

/// An attachment as a Markdown list item: a link to its file, or its name when its
/// content is not on this device.
fn attachment_item(a: &AttachmentRow) -> String {
    let name = one_line(&a.name).replace(['[', ']'], "");
    if a.downloaded {
        format!(
            "- Attachment: [{name}]({}) ({})\n",
            attachment_path(a),
            a.media_type
        )
    } else {
        format!(
            "- Attachment: {name} ({}, not downloaded yet)\n",
            a.media_type
        )
    }
}

fn person_page(d: &Diary, level: usize) -> String {
    let h = |n: usize| "#".repeat(level + n - 1);
    let p = &d.person;
    let mut out = format!("{} {}\n\n", h(1), p.name);
    let mut facts = Vec::new();
    let role = [p.role.as_str(), p.organisation.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    if !role.is_empty() {
        facts.push(role);
    }
    for e in &p.emails {
        facts.push(format!("Email: {e}"));
    }
    for t in &p.phones {
        facts.push(format!("Phone: {t}"));
    }
    if !p.how_met.is_empty() {
        facts.push(format!("How we met: {}", p.how_met));
    }
    if let Some(by) = &p.introduced_by {
        facts.push(format!("Introduced by: {}", by.name));
    }
    if !p.tags.is_empty() {
        facts.push(format!("Tags: {}", p.tags.join(", ")));
    }
    for f in facts {
        out.push_str(&format!("- {}\n", one_line(&f)));
    }
    for a in &p.attachments {
        out.push_str(&attachment_item(a));
    }
    if !p.notes.trim().is_empty() {
        out.push_str(&format!("\n{}\n", p.notes.trim()));
    }
    out.push('\n');
    if d.interactions.is_empty() {
        out.push_str("_No conversations yet._\n");
    }
    for i in &d.interactions {
        out.push_str(&conversation(i, &h(2)));
    }
    out
}

fn conversation(i: &InteractionRow, heading: &str) -> String {
    let at = DateTime::<Utc>::from_timestamp_millis(i.at).unwrap_or_default();
    let kind = match i.kind {
        InteractionKind::Value => "value call",
        InteractionKind::Casual => "casual chat",
        InteractionKind::Event => "met at an event",
        InteractionKind::Other => "conversation",
    };
    let mut out = format!(
        "{heading} {} — {kind} ({})\n\n",
        at.format("%Y-%m-%d"),
        i.channel
    );
    let others: Vec<&str> = i.people.iter().skip(1).map(|p| p.name.as_str()).collect();
    if !others.is_empty() {
        out.push_str(&format!("With: {}\n\n", others.join(", ")));
    }
    if let Some(e) = &i.event {
        out.push_str(&format!("At: {} ({})\n\n", e.name, e.date));
    }
    for (title, text) in [
        ("Talked about", &i.talked_about),
        ("They recommended", &i.recommended),
        ("Observations", &i.observations),
        ("Next step", &i.next_step),
    ] {
        if !text.trim().is_empty() {
            out.push_str(&format!("**{title}:** {}\n\n", text.trim()));
        }
    }
    for r in &i.referrals {
        out.push_str(&format!(
            "- Suggested talking to **{}** ({})\n",
            r.name, r.status
        ));
    }
    if !i.referrals.is_empty() {
        out.push('\n');
    }
    for a in &i.attachments {
        out.push_str(&attachment_item(a));
    }
    if !i.attachments.is_empty() {
        out.push('\n');
    }
    let mut status = Vec::new();
    match (i.thank_you, &i.thank_you_sent_on) {
        (ThankYouState::ToSend, _) => status.push("thank-you to send".to_string()),
        (ThankYouState::Sent, Some(on)) => status.push(format!("thank-you sent {on}")),
        _ => {}
    }
    if let Some(on) = &i.follow_up_on {
        status.push(format!(
            "follow-up {on}{}",
            if i.follow_up_done { " (done)" } else { "" }
        ));
    }
    if !status.is_empty() {
        out.push_str(&format!("_{}_\n\n", status.join(" · ")));
    }
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A file-name-safe form of a name: "José García" → "jose-garcia".
fn slug(name: &str) -> String {
    let folded = crate::fold::fold(name);
    let slug: String = folded
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug = slug
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() {
        "person".into()
    } else {
        slug
    }
}
