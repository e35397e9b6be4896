//! Calendar subscriptions: the secret iCalendar address a calendar service gives
//! (`https://…/basic.ics`, or `webcal://`), fetched with conditional requests
//! (`If-None-Match`, `If-Modified-Since`) and imported like a calendar file. A
//! server that is down, or answers with something that is not a calendar, changes
//! nothing: the error is kept with the subscription and said.
//!
//! The subscriptions are a local setting of this device (`calendar.subscriptions`,
//! JSON): the address is a secret, and each device can refresh on its own; the
//! meetings themselves sync.

use std::time::Duration;

use aftercall_shared::api::{Reply, Request};
use aftercall_shared::interop::CalendarImportReport;
use aftercall_shared::Store;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};

/// The setting holding the subscriptions.
pub const SUBSCRIPTIONS: &str = "calendar.subscriptions";

/// The largest calendar a subscription reads; a larger answer is refused unread.
pub const MAX_FEED_BYTES: usize = 32 * 1024 * 1024;

/// How long one fetch may take, connecting included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the desktop app refreshes its subscriptions while it runs.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30 * 60);

/// A calendar address, checked: `http`, `https` or `webcal` (read as `https`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FeedUrl(hyper::Uri);

impl FeedUrl {
    pub fn parse(text: &str) -> Result<FeedUrl, String> {
        let text = text.trim();
        let text = match text.get(..9) {
            Some(p) if p.eq_ignore_ascii_case("webcal://") => format!("https://{}", &text[9..]),
            _ => text.to_string(),
        };
        let uri: hyper::Uri = text
            .parse()
            .map_err(|e| format!("'{text}' is not a calendar address: {e}"))?;
        match (uri.scheme_str(), uri.host()) {
            (Some("http" | "https"), Some(h)) if !h.is_empty() => Ok(FeedUrl(uri)),
            _ => Err(format!(
                "'{text}' is not a calendar address: give its https:// (or webcal://) address"
            )),
        }
    }

    fn secure(&self) -> bool {
        self.0.scheme_str() == Some("https")
    }

    /// The address with its secret path cut, for messages and listings.
    pub fn shown(&self) -> String {
        format!(
            "{}://{}/…",
            self.0.scheme_str().unwrap_or("https"),
            self.0.authority().map_or("", |a| a.as_str())
        )
    }
}

impl TryFrom<String> for FeedUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        FeedUrl::parse(&s)
    }
}

impl From<FeedUrl> for String {
    fn from(u: FeedUrl) -> String {
        u.0.to_string()
    }
}

/// One subscription and what the last refresh learnt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub url: FeedUrl,
    /// The user's own addresses, to tell them from the guests.
    #[serde(default)]
    pub owner: Vec<String>,
    /// The validators of the last calendar read, sent back to ask "anything new?".
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub last_modified: Option<String>,
    /// When it was last refreshed (ms since the epoch), and what went wrong then.
    #[serde(default)]
    pub checked_at: Option<i64>,
    #[serde(default)]
    pub error: Option<String>,
}

/// What a fetch brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// `304 Not Modified`: the calendar is as last read.
    NotModified,
    Calendar {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    Unchanged,
    Imported(CalendarImportReport),
    Failed(String),
}

/// Fetches the calendar, conditionally on the validators of the last one read;
/// follows up to five redirects.
pub async fn fetch(
    url: &FeedUrl,
    etag: Option<&str>,
    last_modified: Option<&str>,
) -> Result<Fetched, String> {
    let mut url = url.clone();
    for _ in 0..5 {
        let answer = tokio::time::timeout(FETCH_TIMEOUT, get(&url, etag, last_modified))
            .await
            .map_err(|_| format!("{} did not answer in time", url.shown()))??;
        match answer {
            Answer::Redirect(to) => url = to,
            Answer::Done(fetched) => return Ok(fetched),
        }
    }
    Err(format!("{} redirects too many times", url.shown()))
}

enum Answer {
    Redirect(FeedUrl),
    Done(Fetched),
}

async fn get(
    url: &FeedUrl,
    etag: Option<&str>,
    last_modified: Option<&str>,
) -> Result<Answer, String> {
    let host = url.0.host().unwrap_or_default().to_string();
    let port = url
        .0
        .port_u16()
        .unwrap_or(if url.secure() { 443 } else { 80 });
    let unreachable = |e: &dyn std::fmt::Display| format!("cannot reach {}: {e}", url.shown());
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| unreachable(&e))?;
    let path = url
        .0
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let mut request = hyper::Request::get(path)
        .header(
            hyper::header::HOST,
            url.0.authority().map_or(host.as_str(), |a| a.as_str()),
        )
        .header(hyper::header::USER_AGENT, "Aftercall")
        .header(hyper::header::ACCEPT, "text/calendar, */*;q=0.5");
    if let Some(tag) = etag {
        request = request.header(hyper::header::IF_NONE_MATCH, tag);
    }
    if let Some(date) = last_modified {
        request = request.header(hyper::header::IF_MODIFIED_SINCE, date);
    }
    let request = request
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .map_err(|e| unreachable(&e))?;
    let response = if url.secure() {
        let tls = native_tls::TlsConnector::new().map_err(|e| unreachable(&e))?;
        let stream = tokio_native_tls::TlsConnector::from(tls)
            .connect(&host, tcp)
            .await
            .map_err(|e| unreachable(&e))?;
        send(stream, request).await
    } else {
        send(tcp, request).await
    }
    .map_err(|e| unreachable(&e))?;
    let status = response.status();
    let header = |name: hyper::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if status.is_redirection() && status != hyper::StatusCode::NOT_MODIFIED {
        let to = header(hyper::header::LOCATION)
            .ok_or_else(|| format!("{} redirects nowhere", url.shown()))?;
        let to = if to.starts_with('/') {
            format!(
                "{}://{}{to}",
                url.0.scheme_str().unwrap_or("https"),
                url.0.authority().map_or("", |a| a.as_str())
            )
        } else {
            to
        };
        return FeedUrl::parse(&to).map(Answer::Redirect);
    }
    if status == hyper::StatusCode::NOT_MODIFIED {
        return Ok(Answer::Done(Fetched::NotModified));
    }
    if !status.is_success() {
        return Err(format!("{} answered {status}", url.shown()));
    }
    let etag = header(hyper::header::ETAG);
    let last_modified = header(hyper::header::LAST_MODIFIED);
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("{} broke off: {e}", url.shown()))?;
        if let Some(data) = frame.data_ref() {
            if bytes.len() + data.len() > MAX_FEED_BYTES {
                return Err(format!(
                    "{} sends a calendar over {} MB; it is not read",
                    url.shown(),
                    MAX_FEED_BYTES / (1024 * 1024)
                ));
            }
            bytes.extend_from_slice(data);
        }
    }
    Ok(Answer::Done(Fetched::Calendar {
        bytes,
        etag,
        last_modified,
    }))
}

async fn send<S>(
    stream: S,
    request: hyper::Request<http_body_util::Empty<hyper::body::Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, hyper::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender.send_request(request).await
}

/// Reads a calendar answer: refused (nothing imported) unless it is a calendar.
fn is_calendar(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    head.trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_uppercase()
        .starts_with("BEGIN:VCALENDAR")
}

/// Fetches one subscription and imports what changed through `answer` (the store,
/// directly or through the app's backend); updates the subscription's validators
/// and outcome. A failure changes no meeting.
pub async fn refresh<F, Fut>(sub: &mut Subscription, now_millis: i64, answer: F) -> Refreshed
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    sub.checked_at = Some(now_millis);
    let outcome = match fetch(&sub.url, sub.etag.as_deref(), sub.last_modified.as_deref()).await {
        Ok(Fetched::NotModified) => Refreshed::Unchanged,
        Ok(Fetched::Calendar { bytes, .. }) if !is_calendar(&bytes) => Refreshed::Failed(format!(
            "{} did not answer with a calendar; nothing was changed",
            sub.url.shown()
        )),
        Ok(Fetched::Calendar {
            bytes,
            etag,
            last_modified,
        }) => {
            let request = Request::ImportCalendar {
                file: bytes,
                owner: sub.owner.clone(),
            };
            match answer(request).await {
                Reply::CalendarImported(report) => {
                    sub.etag = etag;
                    sub.last_modified = last_modified;
                    Refreshed::Imported(report)
                }
                Reply::Failed(f) => Refreshed::Failed(f.to_string()),
                other => Refreshed::Failed(format!("unexpected answer {other:?}")),
            }
        }
        Err(e) => Refreshed::Failed(e),
    };
    sub.error = match &outcome {
        Refreshed::Failed(e) => Some(e.clone()),
        _ => None,
    };
    outcome
}

/// Refreshes every subscription in turn, each through `answer`; what each did.
pub async fn refresh_all<F, Fut>(
    subs: &mut [Subscription],
    now_millis: i64,
    mut answer: F,
) -> Vec<Refreshed>
where
    F: FnMut(Request) -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let mut outcomes = Vec::with_capacity(subs.len());
    for sub in subs.iter_mut() {
        outcomes.push(refresh(sub, now_millis, &mut answer).await);
    }
    outcomes
}

/// Refreshes every saved subscription through `answer` (the store, directly or
/// through the app's store thread): reads them, refreshes each, and keeps what
/// each refresh learnt. Returns each subscription with what its refresh did.
pub async fn refresh_saved<F, Fut>(
    now_millis: i64,
    mut answer: F,
) -> Result<Vec<(Subscription, Refreshed)>, String>
where
    F: FnMut(Request) -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let saved = match answer(Request::Setting {
        key: SUBSCRIPTIONS.into(),
    })
    .await
    {
        Reply::Setting(saved) => saved,
        other => return Err(format!("calendar subscriptions not read: {other:?}")),
    };
    let mut subs = decode(saved)?;
    if subs.is_empty() {
        return Ok(Vec::new());
    }
    let outcomes = refresh_all(&mut subs, now_millis, &mut answer).await;
    let keep = Request::SetSetting {
        key: SUBSCRIPTIONS.into(),
        value: encode(&subs)?,
    };
    match answer(keep).await {
        Reply::Done => Ok(subs.into_iter().zip(outcomes).collect()),
        other => Err(format!("calendar subscriptions not kept: {other:?}")),
    }
}

/// Refreshes the subscriptions of the store behind `backend` (the app's own
/// store thread).
pub async fn refresh_through(
    backend: &crate::backend::Backend,
    now_millis: i64,
) -> Result<Vec<Refreshed>, String> {
    let refreshed = refresh_saved(now_millis, |request| {
        let backend = backend.clone();
        async move { backend.ask(&request).await }
    })
    .await?;
    Ok(refreshed.into_iter().map(|(_, outcome)| outcome).collect())
}

/// Keeps the subscriptions of the app's store fresh while it runs: once at start,
/// then every [`REFRESH_EVERY`], on a thread of its own, never in the way of a
/// capture (each import is one request among the screens' own).
pub fn keep_refreshed(backend: crate::backend::Backend) {
    let spawned = std::thread::Builder::new()
        .name("aftercall-calendars".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                loop {
                    let now = chrono::Utc::now().timestamp_millis();
                    match refresh_through(&backend, now).await {
                        Ok(outcomes) => {
                            for o in outcomes.iter().filter_map(|o| match o {
                                Refreshed::Failed(e) => Some(e),
                                _ => None,
                            }) {
                                tracing::info!("calendar not refreshed: {o}");
                            }
                        }
                        Err(e) => tracing::warn!("calendar subscriptions not read: {e}"),
                    }
                    tokio::time::sleep(REFRESH_EVERY).await;
                }
            });
        });
    if let Err(e) = spawned {
        tracing::warn!("no calendar refreshes: {e}");
    }
}

/// The subscriptions as the setting holds them (none when it is unset).
fn decode(saved: Option<String>) -> Result<Vec<Subscription>, String> {
    match saved {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| format!("the calendar subscriptions do not read: {e}")),
        None => Ok(Vec::new()),
    }
}

/// The setting's value for `subs` (unset when there are none).
fn encode(subs: &[Subscription]) -> Result<Option<String>, String> {
    (!subs.is_empty())
        .then(|| serde_json::to_string(subs).map_err(|e| e.to_string()))
        .transpose()
}

/// The subscriptions kept in the store's settings.
pub fn load(store: &Store) -> anyhow::Result<Vec<Subscription>> {
    decode(store.setting(SUBSCRIPTIONS)?).map_err(anyhow::Error::msg)
}

pub fn save(store: &Store, subs: &[Subscription]) -> anyhow::Result<()> {
    let value = encode(subs).map_err(anyhow::Error::msg)?;
    store.set_setting(SUBSCRIPTIONS, value.as_deref())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_with_webcal_as_https_and_shown_without_their_secret() {
        let u = FeedUrl::parse(" webcal://calendar.example.com/private-abc123/basic.ics ").unwrap();
        assert_eq!(
            String::from(u.clone()),
            "https://calendar.example.com/private-abc123/basic.ics"
        );
        assert_eq!(u.shown(), "https://calendar.example.com/…");
        assert!(FeedUrl::parse("http://127.0.0.1:8080/c.ics").is_ok());
        for bad in ["", "calendar.ics", "ftp://x.org/c.ics", "https://"] {
            assert!(FeedUrl::parse(bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&u).unwrap();
        assert_eq!(serde_json::from_str::<FeedUrl>(&json).unwrap(), u);
    }

    /// Answers every connection with `answer`, on 127.0.0.1.
    fn serve_once(answer: String) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/secret/basic.ics", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        url
    }

    #[tokio::test]
    async fn the_apps_store_thread_imports_a_subscribed_calendar_and_keeps_what_it_learnt() {
        let dir = tempfile::tempdir().unwrap();
        let backend = crate::backend::Backend::start(dir.path().to_path_buf(), None);
        let end = chrono::Utc::now() - chrono::Duration::hours(1);
        let stamp = |t: chrono::DateTime<chrono::Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
        let body = format!(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a@x\r\nDTSTART:{}\r\nDTEND:{}\r\n\
             SUMMARY:Intro call\r\nORGANIZER:mailto:me@example.com\r\n\
             ATTENDEE;CN=Rosa Diaz:mailto:rosa@diaz.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            stamp(end - chrono::Duration::minutes(30)),
            stamp(end)
        );
        let url = serve_once(format!(
            "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        assert_eq!(
            refresh_through(&backend, 1).await,
            Ok(Vec::new()),
            "nothing subscribed"
        );
        let sub = Subscription {
            url: FeedUrl::parse(&url).unwrap(),
            owner: vec!["me@example.com".into()],
            etag: None,
            last_modified: None,
            checked_at: None,
            error: None,
        };
        let subscribe = Request::SetSetting {
            key: SUBSCRIPTIONS.into(),
            value: Some(serde_json::to_string(&[sub]).unwrap()),
        };
        backend.get::<()>(&subscribe).await.unwrap();
        let outcomes = refresh_through(&backend, 42).await.unwrap();
        assert!(
            matches!(&outcomes[..], [Refreshed::Imported(r)] if r.meetings.len() == 1),
            "{outcomes:?}"
        );
        let asked: aftercall_shared::queries::MeetingsToAsk = backend
            .get(&Request::MeetingsToAsk { limit: 5 })
            .await
            .unwrap();
        assert_eq!(asked.total, 1);
        let kept: Option<String> = backend
            .get(&Request::Setting {
                key: SUBSCRIPTIONS.into(),
            })
            .await
            .unwrap();
        let kept: Vec<Subscription> = serde_json::from_str(&kept.unwrap()).unwrap();
        assert_eq!(kept[0].etag.as_deref(), Some("\"v1\""));
        assert_eq!(kept[0].checked_at, Some(42));
        assert_eq!(kept[0].error, None);
    }

    #[test]
    fn only_a_calendar_is_imported() {
        assert!(is_calendar(
            b"\xef\xbb\xbfBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
        ));
        assert!(!is_calendar(b"<html>Sign in</html>"));
        assert!(!is_calendar(b""));
    }
}
