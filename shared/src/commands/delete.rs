//! Deleting and restoring records. A delete is a tombstone, never an erasure.

use crate::model::{DocKind, Event, Interaction, Person};
use crate::{Result, Store};

impl Store {
    /// Marks a record deleted; it leaves every list and search but can be restored.
    pub fn delete(&mut self, id: &str) -> Result<()> {
        self.set_deleted(id, true)
    }

    /// Brings a deleted record back, with any edits made to it meanwhile.
    pub fn restore(&mut self, id: &str) -> Result<()> {
        self.set_deleted(id, false)
    }

    fn set_deleted(&mut self, id: &str, deleted: bool) -> Result<()> {
        let (id, kind) = self.resolve_doc(id)?;
        self.write(|w| match kind {
            DocKind::Person => w.update(&id, kind, |p: &mut Person| {
                p.deleted = deleted;
                Ok(())
            }),
            DocKind::Interaction => w.update(&id, kind, |i: &mut Interaction| {
                i.deleted = deleted;
                Ok(())
            }),
            DocKind::Event => w.update(&id, kind, |e: &mut Event| {
                e.deleted = deleted;
                Ok(())
            }),
        })
    }
}
