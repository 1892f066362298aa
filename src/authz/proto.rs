//! The Check's protobuf layer, fenced: a `CheckRequest`'s bytes read where they lie (`decode`),
//! the fields a decision reads checked and borrowed as a [`RequestView`] (`view`), a
//! `CheckResponse` written straight from a decision as an [`Answer`] (`encode`), and the gRPC
//! codec that passes both through tonic as bytes (`codec`). Every bound it puts on a request is a
//! documented `const` in `limits`.
//!
//! Inside, dependencies point one way: `view → decode → limits`, `codec → encode`; `decode`
//! knows the Envoy messages it reads by the field numbers in `decode::schema`, whose guard names
//! every field of those messages, so that an envoy-types upgrade adding one fails to compile
//! until the new field is reviewed.
//!
//! It must not decide anything or reach back into the service: no policy, no signatures, no
//! metrics, no logs. The service (`authz`) calls it; it uses `sigv4::Header` and
//! `lattice::Request` only as the types it hands over.

mod codec;
mod decode;
mod encode;
mod limits;
mod view;

pub(super) use codec::CheckCodec;
pub use decode::{DecodeError, Fault};
pub(crate) use decode::{Fields, check_request};
pub use encode::Answer;
pub(super) use encode::{Http, Metadata, Response, Status};
pub use limits::{MAX_HEADER_BYTES, MAX_HEADERS, MAX_TARGET_BYTES};
pub use view::{InvalidCheckRequest, RequestView, check_bounds};
