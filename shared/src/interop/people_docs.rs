//! Loading whole Person documents for exports that need more than the lists show.

use autosurgeon::hydrate;

use crate::model::Person;
use crate::{Result, Store};

impl Store {
    /// Every live person with their id, by name; only those in `ids` when given.
    pub(crate) fn people_documents(
        &self,
        ids: Option<&[crate::model::PersonId]>,
    ) -> Result<Vec<(String, Person)>> {
        let mut stmt = self.conn().prepare(
            "SELECT d.id, d.bytes FROM docs d JOIN people p ON p.id = d.id
             WHERE d.kind = 'person' AND p.deleted = 0 ORDER BY p.name_key, p.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, bytes) = row?;
            if ids.is_some_and(|ids| !ids.iter().any(|i| i.as_str() == id)) {
                continue;
            }
            let doc = automerge::AutoCommit::load(&bytes)?;
            out.push((id, hydrate(&doc)?));
        }
        Ok(out)
    }
}
