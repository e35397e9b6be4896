//! Answering "how did it go?" about a meeting: captured, dismissed, or not a
//! networking call. The answer is part of the meeting's document, so it syncs.

use crate::model::{DocKind, Meeting, MeetingId, MeetingPrompt};
use crate::{Result, Store};

impl Store {
    /// Records the answer to a meeting's prompt.
    pub fn answer_meeting(&mut self, id: &MeetingId, answer: &MeetingPrompt) -> Result<()> {
        self.write(|w| {
            w.update(id.as_str(), DocKind::Meeting, |m: &mut Meeting| {
                m.prompt = answer.clone();
                Ok(())
            })
        })
    }

    /// A meeting by id or unique id prefix.
    pub fn find_meeting(&self, id: &str) -> Result<MeetingId> {
        super::lookup::resolve_prefix(self.conn(), "meetings", "meeting", id).map(MeetingId::from)
    }
}
