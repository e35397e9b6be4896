//! `aftercall attach | attachments | attachment save | attachment remove`.

use std::io::Read;
use std::path::{Path, PathBuf};

use aftercall_shared::api::{Reply, Request};
use aftercall_shared::model::{
    AttachmentId, AttachmentOwner, DocKind, InteractionId, MediaType, MAX_ATTACHMENT_BYTES,
};
use aftercall_shared::queries::AttachmentRow;
use anyhow::Context;
use clap::{Args, Subcommand};

use super::{ask, out, print_json, unexpected};
use crate::format;

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The person's name (or id).
    person: String,
    /// The file to keep.
    file: PathBuf,
    /// Keep it on one of their conversations (its id, or its first characters) rather
    /// than on the person.
    #[arg(long, value_name = "CONVERSATION_ID")]
    to: Option<String>,
    /// Its media type (default: from the file's extension).
    #[arg(long = "type", value_name = "MEDIA_TYPE")]
    media_type: Option<String>,
}

#[derive(Debug, Args)]
pub struct AttachmentsArgs {
    /// The person's name (or id).
    person: String,
    /// Print JSON instead of lines.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct AttachmentArgs {
    #[command(subcommand)]
    command: AttachmentCommand,
}

#[derive(Debug, Subcommand)]
enum AttachmentCommand {
    /// Write an attachment's content to a file.
    Save {
        /// The attachment's id (as `aftercall attachments` shows it, or its first characters).
        id: String,
        /// Where to write it (a folder: under the attachment's name there).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
    /// Remove an attachment.
    Remove {
        /// The attachment's id (or its first characters).
        id: String,
    },
}

/// Reads a file of at most `MAX_ATTACHMENT_BYTES`, refusing a larger one before
/// reading it whole.
fn read_limited(path: &Path) -> anyhow::Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_ATTACHMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_ATTACHMENT_BYTES {
        anyhow::bail!(
            "{} is larger than {} MB, the most an attachment may be",
            path.display(),
            MAX_ATTACHMENT_BYTES / (1024 * 1024)
        );
    }
    Ok(bytes)
}

pub fn attach(dir: &Path, args: AttachArgs) -> anyhow::Result<()> {
    let content = read_limited(&args.file)?;
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let media_type = match &args.media_type {
        Some(t) => t.parse::<MediaType>()?,
        None => MediaType::guess(&name),
    };
    let mut store = crate::data::open_store(dir)?;
    let person = store.find_person_by_id_or_name(&args.person)?;
    let to = match &args.to {
        Some(id) => {
            let (full, kind) = store.resolve_doc(id)?;
            if kind != DocKind::Interaction {
                anyhow::bail!("{id} is a {kind}, not a conversation");
            }
            let conversation = InteractionId::from(full.as_str());
            let diary = store.diary(&person)?;
            if !diary.interactions.iter().any(|i| i.id == conversation) {
                anyhow::bail!("conversation {id} is not one of this person's");
            }
            AttachmentOwner::Conversation(conversation)
        }
        None => AttachmentOwner::Person(person),
    };
    let row = match ask(
        &mut store,
        Request::Attach {
            to,
            name,
            media_type,
            content,
        },
    )? {
        Reply::Attached(row) => row,
        other => return Err(unexpected(other)),
    };
    out(&format!(
        "Attached {} ({}) [{}]",
        row.name,
        size(row.size),
        row.id
    ));
    Ok(())
}

pub fn attachments(dir: &Path, args: AttachmentsArgs) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    let person = store.find_person_by_id_or_name(&args.person)?;
    let rows = match ask(
        &mut store,
        Request::Attachments {
            of: AttachmentOwner::Person(person),
        },
    )? {
        Reply::Attachments(rows) => rows,
        other => return Err(unexpected(other)),
    };
    if args.json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        out("No attachments.");
    }
    for row in &rows {
        out(&line(row));
    }
    Ok(())
}

/// One attachment as a line: id, name, size, type, where, whether it is here.
fn line(row: &AttachmentRow) -> String {
    let place = match &row.owner {
        AttachmentOwner::Person(_) => String::new(),
        AttachmentOwner::Conversation(id) => format!("  on conversation {}", format::short(id)),
    };
    let missing = if row.downloaded {
        ""
    } else {
        "  (not downloaded yet)"
    };
    format!(
        "{}  {}  {}  {}  {}{place}{missing}",
        row.id,
        row.name,
        size(row.size),
        row.media_type,
        format::when(row.added_at)
    )
}

/// Bytes as a person reads a size.
fn size(bytes: u64) -> String {
    if bytes < 1_000 {
        format!("{bytes} B")
    } else if bytes < 1_000_000 {
        format!("{:.1} kB", bytes as f64 / 1_000.0)
    } else {
        format!("{:.1} MB", bytes as f64 / 1_000_000.0)
    }
}

pub fn attachment(dir: &Path, args: AttachmentArgs) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    match args.command {
        AttachmentCommand::Save { id, out: path } => {
            let opened = match ask(
                &mut store,
                Request::OpenAttachment {
                    id: AttachmentId::from(id.as_str()),
                },
            )? {
                Reply::AttachmentContent(opened) => opened,
                other => return Err(unexpected(other)),
            };
            let Some(content) = opened.content else {
                anyhow::bail!(
                    "{} is not downloaded yet: it will be fetched at the next sync (aftercall sync)",
                    opened.row.name
                );
            };
            let path = if path.is_dir() {
                path.join(&opened.row.name)
            } else {
                path
            };
            crate::owner_only::write(&path, &content)
                .with_context(|| format!("cannot write {}", path.display()))?;
            out(&format!(
                "Saved {} ({}) to {}",
                opened.row.name,
                size(opened.row.size),
                path.display()
            ));
        }
        AttachmentCommand::Remove { id } => {
            let row = store.attachment(&AttachmentId::from(id.as_str()))?;
            match ask(&mut store, Request::RemoveAttachment { id: row.id })? {
                Reply::Done => out(&format!("Removed {}.", row.name)),
                other => return Err(unexpected(other)),
            }
        }
    }
    Ok(())
}
