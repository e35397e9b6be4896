//! `aftercall today | people | diary | review`: the read-only reports.

use std::path::Path;

use aftercall_shared::api::{Reply, Request};
use aftercall_shared::dates::parse_date;
use aftercall_shared::queries::{InteractionRow, ReferralRow};
use clap::Args;

use super::{ask, local_now, out, print_json, unexpected};
use crate::format;

#[derive(Debug, Args)]
pub struct TodayArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Show at most this many items of each list (the counts are always whole).
    #[arg(long, default_value_t = aftercall_shared::queries::TODAY_PAGE)]
    limit: usize,
}

#[derive(Debug, Args)]
pub struct PeopleArgs {
    /// Words to find in names and every note (prefixes match, accents ignored).
    #[arg(long, short)]
    search: Option<String>,
    /// At most this many people.
    #[arg(long, default_value_t = 200)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct DiaryArgs {
    /// The person's name (or id).
    name: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Any day of the week to review (default: this week).
    #[arg(long, value_name = "DATE")]
    week: Option<String>,
    #[arg(long)]
    json: bool,
}

fn people_of(row: &InteractionRow) -> String {
    row.people
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn referral_line(r: &ReferralRow) -> String {
    let mut flags = Vec::new();
    if r.will_introduce {
        flags.push("will introduce");
    }
    if r.will_tell {
        flags.push("will tell them you'll call");
    }
    if r.may_use_name {
        flags.push("may use their name");
    }
    let by = r
        .referrer
        .as_ref()
        .map(|p| format!(" (from {})", p.name))
        .unwrap_or_default();
    let reach = if r.reach.is_empty() {
        String::new()
    } else {
        format!("; reach: {}", r.reach)
    };
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(" — {}", flags.join(", "))
    };
    format!(
        "{}{by}, {}{flags}{reach}  [referral {}]",
        r.name,
        format::referral_status(r.status),
        format::short(&r.id)
    )
}

pub fn today(dir: &Path, args: TodayArgs) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    let request = Request::Today {
        day: local_now().date_naive().into(),
        limit: args.limit,
    };
    let today = match ask(&mut store, request)? {
        Reply::Today(today) => today,
        other => return Err(unexpected(other)),
    };
    if args.json {
        return print_json(&today);
    }
    out(&format!("Today, {}", format::day(today.date)));
    if today.is_clear() {
        out("Nothing owed today. Capture your next call with `aftercall capture --with NAME`.");
    }
    if !today.thank_yous.is_empty() {
        out(&format!(
            "\nThank-yous to send ({})",
            today.counts.thank_yous
        ));
        for t in &today.thank_yous {
            let i = &t.interaction;
            out(&format!(
                "  • {} — {}, {}: {}  [{}]",
                people_of(i),
                format::kind(i.kind),
                format::when(i.at),
                format::gist(&i.talked_about, 60),
                format::short(&i.id)
            ));
        }
        more(today.counts.thank_yous, today.thank_yous.len());
    }
    if !today.follow_ups.is_empty() {
        out(&format!("\nFollow-ups due ({})", today.counts.follow_ups));
        for f in &today.follow_ups {
            out(&format!(
                "  • {} — {}: {}  [follow-up {}]",
                people_of(&f.interaction),
                format::due(f.overdue_days),
                format::gist(&f.interaction.next_step, 60),
                format::short(&f.id)
            ));
        }
        more(today.counts.follow_ups, today.follow_ups.len());
    }
    if !today.intros.is_empty() {
        out(&format!("\nIntros to chase ({})", today.counts.intros));
        for r in &today.intros {
            out(&format!("  • {}", referral_line(r)));
        }
        more(today.counts.intros, today.intros.len());
    }
    if !today.keep_in_touch.is_empty() {
        out(&format!("\nKeep in touch ({})", today.counts.keep_in_touch));
        for k in &today.keep_in_touch {
            let last = match k.last {
                Some(day) => format!("last talked {}", format::day(day)),
                None => "not talked to yet".to_string(),
            };
            out(&format!(
                "  • {} — {} ({}), {last}",
                k.name,
                format::due(k.overdue_days),
                k.cadence.describe()
            ));
        }
        more(today.counts.keep_in_touch, today.keep_in_touch.len());
    }
    if !today.upcoming.is_empty() {
        out(&format!(
            "\nComing up this week ({})",
            today.counts.upcoming
        ));
        for f in &today.upcoming {
            out(&format!(
                "  • {} — {}  [follow-up {}]",
                people_of(&f.interaction),
                format::day(f.on),
                format::short(&f.id)
            ));
        }
        more(today.counts.upcoming, today.upcoming.len());
    }
    Ok(())
}

/// The line under a list Today cut short.
fn more(total: usize, shown: usize) {
    if total > shown {
        out(&format!(
            "  … and {} more (aftercall today --limit {total})",
            total - shown
        ));
    }
}

pub fn people(dir: &Path, args: PeopleArgs) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    let people = match args.search.as_deref() {
        Some(q) => people_reply(ask(
            &mut store,
            Request::SearchPeople {
                query: q.to_string(),
                limit: args.limit,
            },
        )?)?,
        None => people_reply(ask(&mut store, Request::People { limit: args.limit })?)?,
    };
    if args.json {
        return print_json(&people);
    }
    if people.is_empty() {
        out(if args.search.is_some() {
            "No one matches."
        } else {
            "No people yet."
        });
    }
    for p in &people {
        let org = [p.role.as_str(), p.organisation.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        let last = p
            .last_at
            .map(format::when)
            .unwrap_or_else(|| "never talked".into());
        let org = if org.is_empty() {
            String::new()
        } else {
            format!(" ({org})")
        };
        out(&format!(
            "{}{org} — {} conversations, last {last}",
            p.name, p.conversations
        ));
    }
    Ok(())
}

pub fn diary(dir: &Path, args: DiaryArgs) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    let id = store.find_person_by_id_or_name(&args.name)?;
    let diary = match ask(&mut store, Request::Diary { person: id })? {
        Reply::Diary(diary) => diary,
        other => return Err(unexpected(other)),
    };
    if args.json {
        return print_json(&diary);
    }
    let p = &diary.person;
    out(&format!("{}  [{}]", p.name, format::short(&p.id)));
    if !p.how_met.is_empty() {
        out(&format!("How you met: {}", p.how_met));
    }
    if let Some(by) = &p.introduced_by {
        out(&format!("Introduced by: {}", by.name));
    }
    for a in &p.attachments {
        out(&format!("Attached: {}", attachment_line(a)));
    }
    match diary.last_value_call {
        Some(at) => out(&format!("Last value call: {}", format::when(at))),
        None => out("No value call yet."),
    }
    for i in &diary.interactions {
        out(&format!(
            "\n{} — {} ({})",
            format::when(i.at),
            format::kind(i.kind),
            i.channel
        ));
        for (label, text) in [
            ("Talked about", &i.talked_about),
            ("They recommended", &i.recommended),
            ("Observations", &i.observations),
            ("Next step", &i.next_step),
        ] {
            if !text.is_empty() {
                out(&format!("  {label}: {text}"));
            }
        }
        for r in &i.referrals {
            out(&format!("  Referred: {}", referral_line(r)));
        }
        for a in &i.attachments {
            out(&format!("  Attached: {}", attachment_line(a)));
        }
    }
    if !diary.referrals_received.is_empty() {
        out("\nCame to you through:");
        for r in &diary.referrals_received {
            out(&format!("  • {}", referral_line(r)));
        }
    }
    Ok(())
}

/// An attachment in the diary: its name, whether it is here, and its id.
fn attachment_line(a: &aftercall_shared::queries::AttachmentRow) -> String {
    let missing = if a.downloaded {
        ""
    } else {
        " (not downloaded yet)"
    };
    format!("{}{missing}  [{}]", a.name, format::short(&a.id))
}

pub fn review(dir: &Path, args: ReviewArgs) -> anyhow::Result<()> {
    let now = local_now();
    let day = args
        .week
        .as_deref()
        .map(|w| parse_date(w, now.date_naive()))
        .transpose()?;
    let mut store = crate::data::open_store(dir)?;
    let request = Request::Review {
        day: day.unwrap_or(now.date_naive()).into(),
        offset_minutes: now.offset().local_minus_utc() / 60,
    };
    let review = match ask(&mut store, request)? {
        Reply::Review(review) => review,
        other => return Err(unexpected(other)),
    };
    if args.json {
        return print_json(&review);
    }
    for (label, w) in [
        ("This week", &review.this_week),
        ("Last week", &review.last_week),
    ] {
        out(&format!(
            "{label} (from {}): {} value calls, {} casual chats, {} at events, {} other; offers made: {}",
            format::day(w.start),
            w.value,
            w.casual,
            w.event,
            w.other,
            w.offers_made
        ));
    }
    if let Some(goal) = review.value_goal {
        out(&format::goal_progress(goal, review.this_week.value));
    }
    out(&format!(
        "Thank-yous outstanding: {}",
        review.thank_yous_outstanding
    ));
    if !review.casual_only.is_empty() {
        out("\nBook a value call with:");
        for c in &review.casual_only {
            out(&format!(
                "  • {} — {} casual chats, last {}",
                c.person.name,
                c.casual_chats,
                format::when(c.last_casual_at)
            ));
        }
    }
    if !review.no_business.is_empty() {
        out("\nThis week, business never came up with:");
        for i in &review.no_business {
            out(&format!("  • {} — {}", people_of(i), format::when(i.at)));
        }
    }
    Ok(())
}

fn people_reply(reply: Reply) -> anyhow::Result<Vec<aftercall_shared::queries::PersonSummary>> {
    match reply {
        Reply::People(people) => Ok(people),
        other => Err(unexpected(other)),
    }
}
