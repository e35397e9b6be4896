//! Deleting and restoring records. A delete is a tombstone, never an erasure.

use crate::model::{DocKind, Event, Interaction, Meeting, Person, RecordId};
use crate::{Result, Store};

impl Store {
    /// Marks a record (by id or unique id prefix) deleted; it leaves every list and search but can be restored.
    pub fn delete(&mut self, id: impl Into<RecordId>) -> Result<()> {
        self.set_deleted(&id.into(), true)
    }

    /// Brings a deleted record back, with any edits made to it meanwhile.
    pub fn restore(&mut self, id: impl Into<RecordId>) -> Result<()> {
        self.set_deleted(&id.into(), false)
    }

    fn set_deleted(&mut self, id: &RecordId, deleted: bool) -> Result<()> {
        let (id, kind) = self.resolve_doc(id.as_str())?;
        let id = id.as_str();
        self.write(|w| match kind {
            DocKind::Person => w.update(id, kind, |p: &mut Person| {
                p.deleted = deleted;
                Ok(())
            }),
            DocKind::Interaction => w.update(id, kind, |i: &mut Interaction| {
                i.deleted = deleted;
                Ok(())
            }),
            DocKind::Event => w.update(id, kind, |e: &mut Event| {
                e.deleted = deleted;
                Ok(())
            }),
            DocKind::Meeting => w.update(id, kind, |m: &mut Meeting| {
                m.deleted = deleted;
                Ok(())
            }),
        })
    }
}
