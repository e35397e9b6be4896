//! Calendar subscriptions against a calendar server on loopback: refreshed with
//! conditional requests, and a server that is down or answers garbage changes nothing.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::support::{fails, json, ok};

/// What the server answers.
#[derive(Clone)]
enum Serving {
    Calendar {
        body: String,
        etag: Option<&'static str>,
        last_modified: &'static str,
    },
    Garbage,
}

#[derive(Default)]
struct Seen {
    /// (If-None-Match, If-Modified-Since) of each request.
    requests: Vec<(Option<String>, Option<String>)>,
}

/// A one-connection-at-a-time HTTP/1.1 server on 127.0.0.1, port 0.
fn serve(serving: Arc<Mutex<Serving>>, seen: Arc<Mutex<Seen>>) -> (String, Arc<Mutex<bool>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/private-0a1b2c/basic.ics",
        listener.local_addr().unwrap()
    );
    let down = Arc::new(Mutex::new(false));
    let stop = down.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            if *stop.lock().unwrap() {
                // Down: the connection is dropped unanswered.
                continue;
            }
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut none_match, mut since) = (None, None);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                let value = || line.split_once(':').map(|(_, v)| v.trim().to_string());
                if lower.starts_with("if-none-match:") {
                    none_match = value();
                } else if lower.starts_with("if-modified-since:") {
                    since = value();
                }
            }
            seen.lock()
                .unwrap()
                .requests
                .push((none_match.clone(), since.clone()));
            let answer = match serving.lock().unwrap().clone() {
                Serving::Garbage => {
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: \"garbage\"\r\n\
                     Content-Length: 21\r\nConnection: close\r\n\r\n<html>Sign in</html>\n"
                        .to_string()
                }
                Serving::Calendar {
                    body,
                    etag,
                    last_modified,
                } => {
                    let fresh = match (&none_match, etag) {
                        (Some(asked), Some(tag)) => asked != tag,
                        (None, _) => since.as_deref() != Some(last_modified),
                        (Some(_), None) => true,
                    };
                    let tag = etag.map(|t| format!("ETag: {t}\r\n")).unwrap_or_default();
                    if fresh {
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\n{tag}\
                             Last-Modified: {last_modified}\r\nContent-Length: {}\r\n\
                             Connection: close\r\n\r\n{body}",
                            body.len()
                        )
                    } else {
                        format!("HTTP/1.1 304 Not Modified\r\n{tag}Connection: close\r\n\r\n")
                    }
                }
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, down)
}

/// A calendar with the meetings named, each ended an hour or more ago, with Rosa.
fn calendar(now: chrono::DateTime<chrono::Utc>, summaries: &[&str]) -> String {
    let mut ics = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
    for (i, summary) in summaries.iter().enumerate() {
        let start = now - chrono::Duration::hours(2 + i as i64);
        let stamp = |t: chrono::DateTime<chrono::Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:feed-{i}@example.com\r\nDTSTART:{}\r\nDTEND:{}\r\n\
             SUMMARY:{summary}\r\nORGANIZER;CN=Me:mailto:me@example.com\r\n\
             ATTENDEE;CN=Rosa Diaz:mailto:rosa@diaz.example\r\nEND:VEVENT\r\n",
            stamp(start),
            stamp(start + chrono::Duration::minutes(30))
        ));
    }
    ics.push_str("END:VCALENDAR\r\n");
    ics
}

#[test]
fn a_subscribed_calendar_refreshes_conditionally_and_a_bad_or_absent_server_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let now = chrono::Utc::now();
    let serving = Arc::new(Mutex::new(Serving::Calendar {
        body: calendar(now, &["Intro call"]),
        etag: Some("\"v1\""),
        last_modified: "Fri, 04 Dec 2026 08:00:00 GMT",
    }));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (url, down) = serve(serving.clone(), seen.clone());
    let refused = fails(d, &["calendar", "subscribe", "ftp://x.org/c.ics"]);
    assert!(refused.contains("is not a calendar address"), "{refused}");

    let said = ok(
        d,
        &["calendar", "subscribe", &url, "--me", "me@example.com"],
    );
    assert!(said.contains("1 meetings added"), "{said}");
    assert!(
        !said.contains("private-0a1b2c"),
        "the secret path is not printed: {said}"
    );
    assert_eq!(json(d, &["meetings"])["total"], 1);
    assert_eq!(seen.lock().unwrap().requests[0], (None, None));

    // Nothing new: asked with both validators, answered 304, nothing imported.
    let said = ok(d, &["calendar", "refresh"]);
    assert!(said.contains("unchanged since the last refresh"), "{said}");
    assert_eq!(
        seen.lock().unwrap().requests[1],
        (
            Some("\"v1\"".to_string()),
            Some("Fri, 04 Dec 2026 08:00:00 GMT".to_string())
        )
    );

    // A meeting added on the calendar's side comes in at the next refresh.
    *serving.lock().unwrap() = Serving::Calendar {
        body: calendar(now, &["Intro call", "Coffee with Rosa"]),
        etag: None,
        last_modified: "Fri, 04 Dec 2026 09:00:00 GMT",
    };
    let said = ok(d, &["calendar", "refresh"]);
    assert!(
        said.contains("1 meetings added, 0 updated, 1 unchanged"),
        "{said}"
    );
    assert_eq!(json(d, &["meetings"])["total"], 2);
    // Only Last-Modified now: it alone makes the next request conditional.
    let said = ok(d, &["calendar", "refresh"]);
    assert!(said.contains("unchanged since the last refresh"), "{said}");
    assert_eq!(
        seen.lock().unwrap().requests.last().unwrap().1.as_deref(),
        Some("Fri, 04 Dec 2026 09:00:00 GMT")
    );

    // Garbage (a sign-in page): refused, nothing changed, the error kept.
    *serving.lock().unwrap() = Serving::Garbage;
    let failed = fails(d, &["calendar", "refresh"]);
    assert!(
        failed.contains("did not answer with a calendar; nothing was changed"),
        "{failed}"
    );
    assert_eq!(json(d, &["meetings"])["total"], 2);
    let listed = json(d, &["calendar"]);
    assert!(listed[0]["error"]
        .as_str()
        .unwrap()
        .contains("did not answer with a calendar"));
    assert_eq!(
        listed[0]["last_modified"], "Fri, 04 Dec 2026 09:00:00 GMT",
        "validators kept"
    );

    // The server down: said plainly, nothing changed; it recovers by itself.
    *down.lock().unwrap() = true;
    let failed = fails(d, &["calendar", "refresh"]);
    assert!(
        failed.contains("cannot reach http://127.0.0.1:"),
        "{failed}"
    );
    assert_eq!(json(d, &["meetings"])["total"], 2);
    *down.lock().unwrap() = false;
    *serving.lock().unwrap() = Serving::Calendar {
        body: calendar(now, &["Intro call", "Coffee with Rosa"]),
        etag: Some("\"v2\""),
        last_modified: "Fri, 04 Dec 2026 10:00:00 GMT",
    };
    let said = ok(d, &["calendar", "refresh"]);
    assert!(
        said.contains("0 meetings added, 0 updated, 2 unchanged"),
        "{said}"
    );
    assert_eq!(json(d, &["calendar"])[0]["error"], serde_json::Value::Null);

    let said = ok(d, &["calendar", "unsubscribe", &url]);
    assert!(said.contains("its meetings stay"), "{said}");
    assert_eq!(json(d, &["meetings"])["total"], 2);
    assert!(ok(d, &["calendar"]).contains("No calendar subscribed"));
}
