//! The one error type of the domain crate.

/// What went wrong, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's input cannot be used as given.
    #[error("{0}")]
    Invalid(String),
    /// Nothing has that id or name.
    #[error("{0}")]
    NotFound(String),
    /// The store on disk could not be read or written. What it says depends on why:
    /// a damaged file ([`Error::is_damaged`]), a read-only folder
    /// ([`Error::is_read_only`]), or anything else.
    #[error("{}", store_failure(.0))]
    Store(#[from] rusqlite::Error),
    /// A document could not be loaded or changed.
    #[error("a document is damaged: {0}")]
    Document(String),
    /// A record is too large for one save (the limit keeps every entry within what
    /// the relay accepts); nothing was written.
    #[error("{0}")]
    TooLarge(String),
    /// Bytes from outside (a file, the network) do not decode.
    #[error("cannot decode: {0}")]
    Decode(String),
}

impl Error {
    /// SQLite found the store file damaged or not a database at all: it can no
    /// longer be read, and is not written to.
    pub fn is_damaged(&self) -> bool {
        matches!(
            self.sqlite_code(),
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        )
    }

    /// The store may be read but not written (a read-only folder or store file).
    pub fn is_read_only(&self) -> bool {
        matches!(
            self.sqlite_code(),
            Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::PermissionDenied)
        )
    }

    fn sqlite_code(&self) -> Option<rusqlite::ErrorCode> {
        match self {
            Error::Store(e) => e.sqlite_error_code(),
            _ => None,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
    pub(crate) fn not_found(msg: impl Into<String>) -> Self {
        Error::NotFound(msg.into())
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Error::Document(e.to_string())
    }
}
impl From<autosurgeon::HydrateError> for Error {
    fn from(e: autosurgeon::HydrateError) -> Self {
        Error::Document(e.to_string())
    }
}
impl From<autosurgeon::ReconcileError> for Error {
    fn from(e: autosurgeon::ReconcileError) -> Self {
        Error::Document(e.to_string())
    }
}

/// What a failed store operation tells the user, by SQLite's reason.
fn store_failure(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase, PermissionDenied, ReadOnly};
    match e.sqlite_error_code() {
        Some(DatabaseCorrupt | NotADatabase) => "the local store is damaged and can no longer be \
            read, so nothing more is saved in it; to recover, move the data folder aside and \
            pair this device again from the recovery phrase (`aftercall pair`), or restore a \
            JSON backup into an empty data folder (`aftercall restore backup.json`)"
            .to_string(),
        Some(ReadOnly | PermissionDenied) => "the data folder is read-only (or the store file in \
            it is), so nothing can be saved; notes can still be shown and exported. Make the \
            folder and the store file writable to save"
            .to_string(),
        _ => format!(
            "the local store failed: {e}; check the data directory is writable and not full"
        ),
    }
}

/// Result with the domain error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
