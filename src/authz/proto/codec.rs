//! The gRPC codec of `Check`: a `CheckRequest`'s bytes handed over undecoded (the service reads
//! them in place, `decode`), an [`Answer`]'s bytes copied out as they are (`encode` wrote them).
//!
//! It must not look into either message: framing, size limits and status handling stay tonic's.

use bytes::{Buf as _, BufMut as _, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use super::encode::Answer;

/// Hands a `CheckRequest`'s bytes over as they came, encodes [`Answer`]s by copying their bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(in crate::authz) struct CheckCodec;

impl Codec for CheckCodec {
    type Encode = Answer;
    type Decode = Bytes;
    type Encoder = AnswerEncoder;
    type Decoder = RequestBytes;

    fn encoder(&mut self) -> Self::Encoder {
        AnswerEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestBytes
    }
}

/// The message's bytes, without a copy: the gRPC frame's buffer is split off and frozen.
#[derive(Debug, Clone, Copy, Default)]
pub(in crate::authz) struct RequestBytes;

impl Decoder for RequestBytes {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Self::Error> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// An [`Answer`]'s bytes, copied into the frame.
#[derive(Debug, Clone, Copy, Default)]
pub(in crate::authz) struct AnswerEncoder;

impl Encoder for AnswerEncoder {
    type Item = Answer;
    type Error = tonic::Status;

    fn encode(&mut self, item: Answer, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put_slice(item.as_bytes());
        Ok(())
    }
}
