//! Every conversation as one spreadsheet row (CSV, RFC 4180 quoting, CRLF).

use chrono::{DateTime, Utc};

use crate::{Error, Result, Store};

/// The header row, in the user's words.
pub const CSV_COLUMNS: [&str; 19] = [
    "date",
    "time_utc",
    "people",
    "kind",
    "channel",
    "event",
    "talked_about",
    "they_recommended",
    "observations",
    "next_step",
    "business_discussed",
    "offer_made",
    "thank_you",
    "thank_you_sent_on",
    "follow_up_on",
    "follow_up_done",
    "referrals",
    "person_ids",
    "id",
];

impl Store {
    /// Every live conversation, oldest first, as CSV text with a header row.
    pub fn export_interactions_csv(&self) -> Result<String> {
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        let csv_error = |e: csv::Error| Error::invalid(format!("cannot write the CSV: {e}"));
        out.write_record(CSV_COLUMNS).map_err(csv_error)?;
        let mut stmt = self.conn().prepare(
            "SELECT i.id, i.at, i.kind, i.channel,
                    COALESCE((SELECT name FROM events e WHERE e.id = i.event_id), ''),
                    i.talked_about, i.recommended, i.observations, i.next_step,
                    i.business_discussed, i.offer_made, i.thank_you,
                    COALESCE(i.thank_you_sent_on, ''), COALESCE(i.follow_up_on, ''),
                    i.follow_up_done,
                    COALESCE((SELECT GROUP_CONCAT(name, '; ') FROM (SELECT r.name FROM referrals r
                        WHERE r.interaction_id = i.id ORDER BY r.position, r.id)), ''),
                    COALESCE((SELECT GROUP_CONCAT(name, '; ') FROM (SELECT p.name
                        FROM interaction_people ip JOIN people p ON p.id = ip.person_id
                        WHERE ip.interaction_id = i.id ORDER BY ip.position, ip.person_id)), ''),
                    COALESCE((SELECT GROUP_CONCAT(person_id, ' ') FROM (SELECT ip.person_id
                        FROM interaction_people ip WHERE ip.interaction_id = i.id
                        ORDER BY ip.position, ip.person_id)), '')
             FROM interactions i WHERE i.deleted = 0 ORDER BY i.at, i.id",
        )?;
        let mut rows = stmt.query([])?;
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        while let Some(r) = rows.next()? {
            let at = DateTime::<Utc>::from_timestamp_millis(r.get(1)?).unwrap_or_default();
            let record: Vec<String> = vec![
                at.format("%Y-%m-%d").to_string(),
                at.format("%H:%M").to_string(),
                r.get(16)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                yes_no(r.get(9)?),
                yes_no(r.get(10)?),
                r.get::<_, String>(11)?.replace('_', " "),
                r.get(12)?,
                r.get(13)?,
                yes_no(r.get(14)?),
                r.get(15)?,
                r.get(17)?,
                r.get(0)?,
            ];
            out.write_record(&record).map_err(csv_error)?;
        }
        let bytes = out
            .into_inner()
            .map_err(|e| Error::invalid(format!("cannot write the CSV: {e}")))?;
        Ok(String::from_utf8(bytes).unwrap_or_default())
    }
}
