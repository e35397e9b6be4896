//! `aftercall calendar`: calendar subscriptions (the secret iCalendar address a
//! calendar service gives), listed, added, refreshed and removed.

use std::path::Path;

use clap::{Args, Subcommand};

use super::{local_now, out, print_json};
use crate::calendar_feed::{self, FeedUrl, Refreshed, Subscription};

#[derive(Debug, Args)]
pub struct CalendarArgs {
    #[command(subcommand)]
    action: Option<Action>,
    /// Print JSON instead of text (the listing).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Subscribe to a calendar's address (https:// or webcal://) and read it now.
    Subscribe {
        url: String,
        /// Your own email address in that calendar (repeat for more).
        #[arg(long = "me", value_name = "EMAIL")]
        me: Vec<String>,
    },
    /// Read every subscribed calendar again (only what changed is fetched).
    Refresh,
    /// Stop reading a calendar (its meetings stay).
    Unsubscribe { url: String },
}

pub fn calendar(dir: &Path, args: CalendarArgs) -> anyhow::Result<()> {
    let mut store = crate::data::open_store(dir)?;
    let mut subs = calendar_feed::load(&store)?;
    let now = local_now().timestamp_millis();
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    match args.action {
        None => {
            if args.json {
                return print_json(&subs);
            }
            if subs.is_empty() {
                out("No calendar subscribed. Add one with `aftercall calendar subscribe URL`.");
            }
            for s in &subs {
                let state = match (&s.error, s.checked_at) {
                    (Some(e), _) => format!("last refresh failed: {e}"),
                    (None, Some(_)) => "up to date".to_string(),
                    (None, None) => "not read yet".to_string(),
                };
                out(&format!("{}  {state}", s.url.shown()));
            }
            Ok(())
        }
        Some(Action::Subscribe { url, me }) => {
            let url = FeedUrl::parse(&url).map_err(anyhow::Error::msg)?;
            if subs.iter().any(|s| s.url == url) {
                anyhow::bail!("{} is subscribed already", url.shown());
            }
            let mut sub = Subscription {
                url,
                owner: me,
                etag: None,
                last_modified: None,
                checked_at: None,
                error: None,
            };
            let outcome = runtime()?.block_on(calendar_feed::refresh(&mut sub, now, |request| {
                std::future::ready(store.answer(&request))
            }));
            // A calendar that cannot be read now is still subscribed: it is read
            // again at the next refresh, and says why it failed meanwhile.
            subs.push(sub.clone());
            calendar_feed::save(&store, &subs)?;
            say(&sub, &outcome);
            Ok(())
        }
        Some(Action::Refresh) => {
            if subs.is_empty() {
                out("No calendar subscribed.");
            }
            let refreshed = runtime()?
                .block_on(calendar_feed::refresh_saved(now, |request| {
                    std::future::ready(store.answer(&request))
                }))
                .map_err(anyhow::Error::msg)?;
            let mut failed = Vec::new();
            for (sub, outcome) in &refreshed {
                match outcome {
                    Refreshed::Failed(e) => failed.push(format!("{}: {e}", sub.url.shown())),
                    outcome => say(sub, outcome),
                }
            }
            if !failed.is_empty() {
                anyhow::bail!("{}", failed.join("\n"));
            }
            Ok(())
        }
        Some(Action::Unsubscribe { url }) => {
            let url = FeedUrl::parse(&url).map_err(anyhow::Error::msg)?;
            let before = subs.len();
            subs.retain(|s| s.url != url);
            if subs.len() == before {
                anyhow::bail!("{} is not subscribed", url.shown());
            }
            calendar_feed::save(&store, &subs)?;
            out(&format!(
                "Unsubscribed from {}; its meetings stay.",
                url.shown()
            ));
            Ok(())
        }
    }
}

fn say(sub: &Subscription, outcome: &Refreshed) {
    let shown = sub.url.shown();
    match outcome {
        Refreshed::Unchanged => out(&format!("{shown}: unchanged since the last refresh")),
        Refreshed::Imported(report) => out(&format!("{shown}: {}", report.summary())),
        Refreshed::Failed(e) => out(&format!(
            "{shown}: {e}; it is subscribed, and read again at the next refresh"
        )),
    }
}
