//! Every bound the protobuf layer puts on a `CheckRequest`, in one place: how deep its messages
//! may nest, how many header lines and how many bytes of headers it may carry, how long its path
//! may be.
//!
//! It must not hold logic: the decoder and the request view enforce these, and the errors quote
//! them.

/// How deep messages and groups may nest: prost's own limit (`prost::encoding::DecodeContext`),
/// so that the decoder refuses exactly what prost refuses.
pub(super) const RECURSION_LIMIT: u32 = 100;

/// Most header lines a request may carry (Envoy's own default limit is 100). The decoder keeps
/// one line more than this and counts the rest, so that the request view can tell "too many"
/// without the decoder's work growing with what a client sends.
pub const MAX_HEADERS: usize = 256;

/// Most bytes of header names and values a request may carry, all lines together. Envoy's own
/// default limit (`max_request_headers_kb`) is 60 KiB, so no request Envoy accepts by default
/// is refused here; a larger one cannot be a real Lattice caller's.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Largest request target (path and query) accepted.
pub const MAX_TARGET_BYTES: usize = 16 * 1024;
