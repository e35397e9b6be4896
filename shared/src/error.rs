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
    /// The store on disk could not be read or written.
    #[error("the local store failed: {0}; check the data directory is writable and not full")]
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

/// Result with the domain error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
