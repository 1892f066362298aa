//! Why a `CheckRequest`'s bytes cannot be read ([`Fault`]), and where ([`DecodeError`]): the
//! decoder's errors, cheap to return on the hot path (`Copy`, no text until displayed).
//!
//! It must not read bytes: the reader builds these where it fails.

use crate::authz::proto::limits::RECURSION_LIMIT;

/// Why a `CheckRequest`'s bytes cannot be read, and where. Small, so that every read's `Result`
/// comes back in registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    pub(super) fault: Fault,
    pub(super) message: Message,
    /// The field being read; 0 while reading a key.
    pub(super) field: u32,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.field {
            0 => write!(f, "{} (in {})", self.fault, self.message),
            field => write!(f, "{} (field {field} of {})", self.fault, self.message),
        }
    }
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    /// What is wrong.
    pub fn fault(&self) -> Fault {
        self.fault
    }
}

/// What is wrong with a `CheckRequest`'s bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// A varint runs past its message or over ten bytes.
    #[error("a varint is truncated or longer than ten bytes")]
    Varint,
    /// A field key above 32 bits, with field number 0, or with wire type 6 or 7.
    #[error("a field key is invalid")]
    Key,
    /// A length-delimited or fixed-size field runs past the end of its message.
    #[error("a field runs past the end of its message")]
    Truncated,
    /// A known field with another wire type than its own.
    #[error("a field has the wrong wire type")]
    WireType,
    /// A string field that is not UTF-8.
    #[error("a string is not UTF-8")]
    NotUtf8,
    /// A group end without its start, or with another field number.
    #[error("a group end tag matches no group start")]
    GroupEnd,
    /// Messages and groups nested deeper than prost allows.
    #[error("fields are nested more than {RECURSION_LIMIT} levels deep")]
    TooDeep,
}

/// The message a reader is in, for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Message {
    CheckRequest,
    AttributeContext,
    Peer,
    Address,
    SocketAddress,
    Request,
    HttpRequest,
    HeaderMap,
    HeaderValue,
    /// An entry of a `map<string, string>`.
    MapEntry,
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Message::CheckRequest => "CheckRequest",
            Message::AttributeContext => "AttributeContext",
            Message::Peer => "AttributeContext.Peer",
            Message::Address => "Address",
            Message::SocketAddress => "SocketAddress",
            Message::Request => "AttributeContext.Request",
            Message::HttpRequest => "AttributeContext.HttpRequest",
            Message::HeaderMap => "HeaderMap",
            Message::HeaderValue => "HeaderValue",
            Message::MapEntry => "a map entry",
        })
    }
}
