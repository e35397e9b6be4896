//! `aftercall capture`.

use std::path::Path;

use aftercall_shared::api::{Reply, Request};
use aftercall_shared::commands::{CaptureDraft, EventRef, PersonRef, ReferralDraft};
use aftercall_shared::dates::{parse_date, parse_datetime};
use aftercall_shared::model::{Channel, Day, InteractionKind};
use anyhow::bail;
use clap::Args;

use super::{local_now, out};

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Who it was with (repeat for several people). A new name creates the person.
    #[arg(long = "with", value_name = "NAME", required = true)]
    with: Vec<String>,
    /// value, casual, event or other.
    #[arg(long, default_value = "casual")]
    kind: String,
    /// phone, video, in-person or message.
    #[arg(long, default_value = "phone")]
    channel: String,
    /// When it happened (default: now). ISO forms or words such as "yesterday".
    #[arg(long, value_name = "DATETIME")]
    at: Option<String>,
    /// What you talked about.
    #[arg(long)]
    talked: Option<String>,
    /// What they recommended.
    #[arg(long)]
    recommended: Option<String>,
    /// Your observations.
    #[arg(long)]
    observations: Option<String>,
    /// The next step.
    #[arg(long = "next")]
    next_step: Option<String>,
    /// Business was discussed.
    #[arg(long)]
    business: bool,
    /// You made your offer.
    #[arg(long)]
    offer: bool,
    /// A thank-you is to be sent.
    #[arg(long = "thank-you")]
    thank_you: bool,
    /// Follow up on this day: a date or words such as "in 3 days", "next week", "friday".
    #[arg(long = "follow-up", value_name = "DATE")]
    follow_up: Option<String>,
    /// Someone they suggested: "NAME[;intro][;tell][;use-name][;reach=TEXT]". Repeatable.
    #[arg(long = "referral", value_name = "SPEC")]
    referrals: Vec<String>,
    /// The networking event where it happened (created if new).
    #[arg(long, value_name = "NAME")]
    event: Option<String>,
    /// Print what was saved as JSON.
    #[arg(long)]
    json: bool,
}

/// Reads a `--referral` spec: a name, then `;`-separated flags.
pub(crate) fn parse_referral(spec: &str) -> anyhow::Result<ReferralDraft> {
    let mut parts = spec.split(';');
    let name = parts.next().unwrap_or_default().trim();
    if name.is_empty() {
        bail!("a referral needs a name first: \"NAME[;intro][;tell][;use-name][;reach=TEXT]\"");
    }
    let mut draft = ReferralDraft {
        name: name.to_string(),
        ..Default::default()
    };
    for part in parts {
        let part = part.trim();
        match part.split_once('=') {
            Some((key, value)) if key.trim().eq_ignore_ascii_case("reach") => {
                draft.reach = value.trim().to_string()
            }
            _ => match part.to_lowercase().as_str() {
                "" => {}
                "intro" | "introduce" | "will-introduce" => draft.will_introduce = true,
                "tell" | "will-tell" => draft.will_tell = true,
                "use-name" | "name" | "may-use-name" => draft.may_use_name = true,
                other => bail!(
                    "unknown referral flag '{other}' in \"{spec}\": use intro, tell, use-name or reach=TEXT"
                ),
            },
        }
    }
    Ok(draft)
}

pub fn run(dir: &Path, args: CaptureArgs) -> anyhow::Result<()> {
    let now = local_now();
    let people: Vec<PersonRef> = args
        .with
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| PersonRef::Named(n.trim().to_string()))
        .collect();
    if people.is_empty() {
        bail!("say who the conversation was with: --with NAME");
    }
    let draft = CaptureDraft {
        people,
        at: args
            .at
            .as_deref()
            .map(|t| parse_datetime(t, now))
            .transpose()?,
        kind: args.kind.parse::<InteractionKind>()?,
        channel: args.channel.parse::<Channel>()?,
        talked_about: args.talked.unwrap_or_default(),
        recommended: args.recommended.unwrap_or_default(),
        observations: args.observations.unwrap_or_default(),
        next_step: args.next_step.unwrap_or_default(),
        business_discussed: args.business,
        offer_made: args.offer,
        thank_you: args.thank_you,
        follow_up: args
            .follow_up
            .as_deref()
            .map(|d| parse_date(d, now.date_naive()).map(Day::from))
            .transpose()?,
        referrals: args
            .referrals
            .iter()
            .map(|s| parse_referral(s))
            .collect::<Result<_, _>>()?,
        event: args
            .event
            .filter(|e| !e.trim().is_empty())
            .map(EventRef::Named),
        meeting: None,
    };
    // Everything is read and checked; only now is the store touched.
    let mut store = crate::data::open_store(dir)?;
    let saved = match super::ask(&mut store, Request::Capture(draft.clone()))? {
        Reply::Captured(saved) => saved,
        other => return Err(super::unexpected(other)),
    };
    if args.json {
        return super::print_json(&saved);
    }
    let names: Vec<String> = saved
        .people
        .iter()
        .map(|p| {
            if p.created {
                format!("{} (new)", p.name)
            } else {
                p.name.clone()
            }
        })
        .collect();
    out(&format!(
        "Saved {} with {} [{}]",
        draft.kind,
        names.join(", "),
        crate::format::short(&saved.interaction_id)
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referral_specs_read_flags_in_any_order() {
        let r = parse_referral("Bob Stone; use-name ;intro;reach=mornings, by email").unwrap();
        assert_eq!(r.name, "Bob Stone");
        assert!(r.will_introduce && r.may_use_name && !r.will_tell);
        assert_eq!(r.reach, "mornings, by email");
        assert!(parse_referral(";intro").is_err());
        assert!(parse_referral("Bob;maybe")
            .unwrap_err()
            .to_string()
            .contains("unknown referral flag"));
    }
}
