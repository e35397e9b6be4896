//! Why a frame from the wire was refused.

/// A frame that cannot be decoded; the peer sent something this build does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("the frame ended early; the peer sent a truncated message")]
    Truncated,
    #[error("the frame is {0} bytes, over the limit; send smaller batches")]
    TooLarge(usize),
    #[error("protocol version {0} is not supported; update the app or the relay")]
    UnsupportedVersion(u8),
    #[error("unknown message tag {0}")]
    UnknownTag(u8),
    #[error("{what} is over its limit of {limit}")]
    OverLimit { what: &'static str, limit: usize },
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
}
