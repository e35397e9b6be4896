//! `aftercall meetings`: calendar meetings that ended and wait for "how did it go?";
//! `aftercall meetings dismiss ID` and `not-networking ID` answer one.

use std::path::Path;

use aftercall_shared::api::{Reply, Request};
use aftercall_shared::model::MeetingPrompt;
use clap::{Args, Subcommand};

use super::{ask, out, print_json, unexpected};
use crate::format;

#[derive(Debug, Args)]
pub struct MeetingsArgs {
    #[command(subcommand)]
    answer: Option<Answer>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Show at most this many meetings (the count is always whole).
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

#[derive(Debug, Subcommand)]
enum Answer {
    /// Stop asking about a meeting.
    Dismiss {
        /// The meeting's id (as `aftercall meetings` shows it).
        id: String,
    },
    /// It was not a networking call: never ask about it.
    NotNetworking {
        /// The meeting's id.
        id: String,
    },
}

pub fn meetings(dir: &Path, args: MeetingsArgs) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    if let Some(answer) = args.answer {
        let (id, answer, said) = match answer {
            Answer::Dismiss { id } => (id, MeetingPrompt::Dismissed, "Dismissed"),
            Answer::NotNetworking { id } => {
                (id, MeetingPrompt::NotNetworking, "Not a networking call:")
            }
        };
        let id = store.find_meeting(&id)?;
        match ask(
            &mut store,
            Request::AnswerMeeting {
                id: id.clone(),
                answer,
            },
        )? {
            Reply::Done => out(&format!("{said} meeting {}.", format::short(&id))),
            other => return Err(unexpected(other)),
        }
        return Ok(());
    }
    let asking = match ask(&mut store, Request::MeetingsToAsk { limit: args.limit })? {
        Reply::Meetings(asking) => asking,
        other => return Err(unexpected(other)),
    };
    if args.json {
        return print_json(&asking);
    }
    if asking.meetings.is_empty() {
        out("No meeting waits for a capture.");
        return Ok(());
    }
    out(&format!("How did it go? ({})", asking.total));
    for m in &asking.meetings {
        let guests = m
            .guests
            .iter()
            .map(|g| g.name.clone().unwrap_or_else(|| g.email.clone()))
            .collect::<Vec<_>>()
            .join(", ");
        out(&format!(
            "  • {} — {}, {} with {guests}  [{}]",
            m.summary,
            format::when(m.end.timestamp_millis()),
            m.channel,
            format::short(&m.id)
        ));
    }
    if asking.total > asking.meetings.len() {
        out(&format!(
            "  … and {} more (--limit)",
            asking.total - asking.meetings.len()
        ));
    }
    Ok(())
}
