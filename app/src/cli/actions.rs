//! `aftercall thanked | cadence | goal | value-call | done | move | referral | delete |
//! restore | rebuild | merge | duplicates`.

use std::path::Path;

use aftercall_shared::commands::PersonEdit;
use aftercall_shared::dates::parse_date;
use aftercall_shared::model::{Cadence, Day, ReferralStatus};
use clap::Args;

use aftercall_shared::api::{Reply, Request};

use super::{ask, local_now, out, unexpected};
use crate::format;

#[derive(Debug, Args)]
pub struct ThankedArgs {
    /// The person's name (or id).
    name: String,
    /// When it was sent (default: today).
    #[arg(long, value_name = "DATE")]
    on: Option<String>,
}

#[derive(Debug, Args)]
pub struct DoneArgs {
    /// The follow-up's id (as `aftercall today` shows it).
    id: String,
}

#[derive(Debug, Args)]
pub struct MoveArgs {
    /// The follow-up's id.
    id: String,
    /// The new day: a date or words such as "next week".
    to: String,
}

#[derive(Debug, Args)]
pub struct ReferralArgs {
    /// The referral's id (as `aftercall today` shows it).
    id: String,
    /// suggested, intro-asked, intro-made or talked.
    #[arg(long)]
    status: String,
}

#[derive(Debug, Args)]
pub struct CadenceArgs {
    /// The person's name (or id).
    name: String,
    /// How often: 2w, month, quarter, a number of days, weeks or months (10d, 6w,
    /// 2m), or off.
    every: String,
}

#[derive(Debug, Args)]
pub struct GoalArgs {
    /// Value calls a week to aim for, or off.
    per_week: String,
}

#[derive(Debug, Args)]
pub struct ValueCallArgs {
    /// The person's name (or id).
    name: String,
    /// When to follow up to book it: a date or words such as "friday" (default: next week).
    #[arg(long, value_name = "DATE")]
    on: Option<String>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The person to keep (name or id).
    keep: String,
    /// The person merged into them (name or id): their details and conversations
    /// move over, and their id leads to the person kept.
    other: String,
}

#[derive(Debug, Args)]
pub struct DuplicatesArgs {
    /// Print JSON instead of lines.
    #[arg(long)]
    json: bool,
    /// At most this many pairs.
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The record's id (or its first characters).
    id: String,
}

pub fn thanked(dir: &Path, args: ThankedArgs) -> anyhow::Result<()> {
    let today = local_now().date_naive();
    let on = args
        .on
        .as_deref()
        .map(|d| parse_date(d, today))
        .transpose()?
        .unwrap_or(today)
        .into();
    let mut store = crate::data::open_store(dir)?;
    let id = store.find_person_by_id_or_name(&args.name)?;
    let n = match ask(&mut store, Request::PersonThanked { id, on })? {
        Reply::Thanked(n) => n,
        other => return Err(unexpected(other)),
    };
    out(&format!(
        "Marked {n} thank-you{} as sent.",
        if n == 1 { "" } else { "s" }
    ));
    Ok(())
}

pub fn cadence(dir: &Path, args: CadenceArgs) -> anyhow::Result<()> {
    let every = match args.every.trim() {
        "off" | "none" | "never" => None,
        text => Some(text.parse::<Cadence>()?),
    };
    let mut store = crate::data::open_store(dir)?;
    let id = store.find_person_by_id_or_name(&args.name)?;
    let edit = PersonEdit {
        cadence: Some(every),
        ..Default::default()
    };
    ask(&mut store, Request::EditPerson { id, edit })?;
    let name = args.name.trim();
    match every {
        Some(c) => out(&format!("Keeping in touch with {name} {}.", c.describe())),
        None => out(&format!("No reminder to keep in touch with {name}.")),
    }
    Ok(())
}

pub fn goal(dir: &Path, args: GoalArgs) -> anyhow::Result<()> {
    let per_week = match args.per_week.trim() {
        "off" | "none" | "0" => None,
        n => Some(n.parse::<u32>().map_err(|_| {
            anyhow::anyhow!("'{n}' is not a number of value calls a week (or off)")
        })?),
    };
    let mut store = crate::data::open_store(dir)?;
    ask(&mut store, Request::SetValueGoal { per_week })?;
    match per_week {
        Some(n) => out(&format!(
            "Goal: {n} value call{} a week.",
            if n == 1 { "" } else { "s" }
        )),
        None => out("No weekly goal."),
    }
    Ok(())
}

pub fn value_call(dir: &Path, args: ValueCallArgs) -> anyhow::Result<()> {
    let today = local_now().date_naive();
    let on: Day = parse_date(args.on.as_deref().unwrap_or("next week"), today)?.into();
    let mut store = crate::data::open_store(dir)?;
    let person = store.find_person_by_id_or_name(&args.name)?;
    let id = match ask(&mut store, Request::ScheduleValueCall { person, on })? {
        Reply::Scheduled(id) => id,
        other => return Err(unexpected(other)),
    };
    out(&format!(
        "Value call with {}: follow-up {} on {}.",
        args.name.trim(),
        format::short(&id),
        format::day(on)
    ));
    Ok(())
}

pub fn done(dir: &Path, args: DoneArgs) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    let id = store.resolve_follow_up(&args.id)?;
    ask(&mut store, Request::FollowUpDone { id: id.clone() })?;
    out(&format!("Follow-up {} done.", format::short(&id)));
    Ok(())
}

pub fn move_follow_up(dir: &Path, args: MoveArgs) -> anyhow::Result<()> {
    let to: Day = parse_date(&args.to, local_now().date_naive())?.into();
    let mut store = crate::data::open_store(dir)?;
    let id = store.resolve_follow_up(&args.id)?;
    ask(&mut store, Request::FollowUpMoved { id: id.clone(), to })?;
    out(&format!(
        "Follow-up {} moved to {}.",
        format::short(&id),
        format::day(to)
    ));
    Ok(())
}

pub fn referral(dir: &Path, args: ReferralArgs) -> anyhow::Result<()> {
    let status: ReferralStatus = args.status.parse()?;
    let mut store = crate::data::open_store(dir)?;
    let id = store.resolve_referral(&args.id)?;
    let done = match ask(
        &mut store,
        Request::ReferralStatus {
            id: id.clone(),
            status,
        },
    )? {
        Reply::ReferralAdvanced(done) => done,
        other => return Err(unexpected(other)),
    };
    let extra = if done.person_created {
        " and added to your people"
    } else {
        ""
    };
    out(&format!(
        "Referral {} is now {}{extra}.",
        format::short(&id),
        format::referral_status(status)
    ));
    Ok(())
}

pub fn delete(dir: &Path, args: IdArgs, delete: bool) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    let (id, kind) = store.resolve_doc(&args.id)?;
    if delete {
        ask(&mut store, Request::Delete { id: id.clone() })?;
        out(&format!(
            "Deleted {kind} {}. `aftercall restore {}` brings it back.",
            format::short(&id),
            format::short(&id)
        ));
    } else {
        ask(&mut store, Request::Restore { id: id.clone() })?;
        out(&format!("Restored {kind} {}.", format::short(&id)));
    }
    Ok(())
}

pub fn rebuild(dir: &Path) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    store.rebuild_read_model()?;
    out("Rebuilt the lists and the search index from the documents.");
    Ok(())
}

pub fn merge(dir: &Path, args: MergeArgs) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    let keep = store.find_one_person(&args.keep)?;
    let other = store.find_one_person(&args.other)?;
    let merged = match ask(&mut store, Request::MergePeople { keep, other })? {
        Reply::Merged(merged) => merged,
        other => return Err(unexpected(other)),
    };
    let diary = store.diary(&merged.kept)?;
    out(&format!(
        "Merged {} into {} ({}): {} conversation{}.",
        format::short(&merged.merged),
        diary.person.name,
        format::short(&merged.kept),
        diary.interactions.len(),
        if diary.interactions.len() == 1 {
            ""
        } else {
            "s"
        }
    ));
    Ok(())
}

pub fn duplicates(dir: &Path, args: DuplicatesArgs) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    let pairs = match ask(&mut store, Request::Duplicates { limit: args.limit })? {
        Reply::Duplicates(pairs) => pairs,
        other => return Err(unexpected(other)),
    };
    if args.json {
        return super::print_json(&pairs);
    }
    for pair in &pairs {
        out(&format!(
            "{:<10}  {} ({})  {} ({})  aftercall merge {} {}",
            format::duplicate_reason(pair.reason),
            pair.keep.name,
            format::short(&pair.keep.id),
            pair.other.name,
            format::short(&pair.other.id),
            format::short(&pair.keep.id),
            format::short(&pair.other.id),
        ));
    }
    if pairs.is_empty() {
        out("No likely duplicates.");
    }
    Ok(())
}
