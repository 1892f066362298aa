//! Protobuf's wire format, read front to back from a borrowed message: varints, keys, lengths,
//! strings, embedded messages, map entries, and the skipping of fields no decision reads, each as
//! prost reads it and refuses it.
//!
//! It must not know Envoy's messages: which field of which message a decision reads is the
//! decoder's (`decode`). The two fields of a map entry are protobuf's own; their numbers are named
//! in `schema` with the others.

use super::error::{DecodeError, Fault, Message};
use super::schema::MapEntry;
use crate::authz::proto::limits::RECURSION_LIMIT;

/// Wire types (protobuf encoding, "Message Structure").
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const GROUP_START: u8 = 3;
const GROUP_END: u8 = 4;
const I32: u8 = 5;

/// The bytes of one message, read front to back.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    /// How much deeper its fields may nest (prost's `DecodeContext` budget).
    depth: u32,
    message: Message,
}

impl<'a> Reader<'a> {
    /// A reader of `bytes`, the whole of a `message`, with prost's full nesting budget.
    pub(super) fn new(bytes: &'a [u8], message: Message) -> Self {
        Reader {
            bytes,
            depth: RECURSION_LIMIT,
            message,
        }
    }

    #[cold]
    fn fail(&self, fault: Fault, field: u32) -> DecodeError {
        DecodeError {
            fault,
            message: self.message,
            field,
        }
    }

    #[inline(always)]
    fn varint(&mut self, field: u32) -> Result<u64, DecodeError> {
        // Keys and most lengths are one byte.
        if let Some((&byte, rest)) = self.bytes.split_first()
            && byte < 0x80
        {
            self.bytes = rest;
            return Ok(u64::from(byte));
        }
        self.long_varint(field)
    }

    /// A varint of more than one byte (or none): out of line, so that every inlined
    /// [`Reader::varint`] is a comparison and a branch, and the code of a Check stays small.
    #[inline(never)]
    fn long_varint(&mut self, field: u32) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for (i, &byte) in self.bytes.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                // The tenth byte holds the 64th bit, nothing more.
                if i == 9 && byte > 1 {
                    break;
                }
                self.bytes = self.bytes.get(i + 1..).unwrap_or_default();
                return Ok(value);
            }
        }
        Err(self.fail(Fault::Varint, field))
    }

    /// The next field's number and wire type; `None` at the end of the message.
    #[inline(always)]
    pub(super) fn key(&mut self) -> Result<Option<(u32, u8)>, DecodeError> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let key = self.varint(0)?;
        let field = u32::try_from(key >> 3)
            .ok()
            .filter(|&f| f != 0 && key >> 32 == 0);
        let wire = (key & 7) as u8;
        match field {
            Some(field) if wire <= I32 => Ok(Some((field, wire))),
            _ => Err(self.fail(Fault::Key, 0)),
        }
    }

    #[inline(always)]
    fn take(&mut self, len: u64, field: u32) -> Result<&'a [u8], DecodeError> {
        match usize::try_from(len)
            .ok()
            .and_then(|len| Some((self.bytes.get(..len)?, self.bytes.get(len..)?)))
        {
            Some((taken, rest)) => {
                self.bytes = rest;
                Ok(taken)
            }
            None => Err(self.fail(Fault::Truncated, field)),
        }
    }

    /// A length-delimited field's bytes.
    #[inline(always)]
    pub(super) fn bytes(&mut self, field: u32, wire: u8) -> Result<&'a [u8], DecodeError> {
        if wire != LEN {
            return Err(self.fail(Fault::WireType, field));
        }
        let len = self.varint(field)?;
        self.take(len, field)
    }

    #[inline(always)]
    pub(super) fn string(&mut self, field: u32, wire: u8) -> Result<&'a str, DecodeError> {
        let bytes = self.bytes(field, wire)?;
        std::str::from_utf8(bytes).map_err(|_| self.fail(Fault::NotUtf8, field))
    }

    /// A string field no decision reads: checked, as prost checks it.
    pub(super) fn unread_string(&mut self, field: u32, wire: u8) -> Result<(), DecodeError> {
        self.string(field, wire).map(drop)
    }

    /// A varint field (integer, enum or bool) whose value no decision reads.
    pub(super) fn unread_varint(&mut self, field: u32, wire: u8) -> Result<(), DecodeError> {
        if wire != VARINT {
            return Err(self.fail(Fault::WireType, field));
        }
        self.varint(field).map(drop)
    }

    /// An embedded message's bytes, read by a reader of their own, one level deeper.
    pub(super) fn message(
        &mut self,
        field: u32,
        wire: u8,
        message: Message,
    ) -> Result<Reader<'a>, DecodeError> {
        let bytes = self.bytes(field, wire)?;
        let depth = self
            .depth
            .checked_sub(1)
            .ok_or_else(|| self.fail(Fault::TooDeep, field))?;
        Ok(Reader {
            bytes,
            depth,
            message,
        })
    }

    /// A message field no decision reads: its bytes are skipped, not looked into.
    pub(super) fn unread_message(&mut self, field: u32, wire: u8) -> Result<(), DecodeError> {
        self.message(field, wire, self.message).map(drop)
    }

    /// A `map<string, string>` entry: key and value default to empty, the last of each wins.
    pub(super) fn map_entry(
        &mut self,
        field: u32,
        wire: u8,
    ) -> Result<(&'a str, &'a str), DecodeError> {
        let mut entry = self.message(field, wire, Message::MapEntry)?;
        let (mut key, mut value) = ("", "");
        while let Some((field, wire)) = entry.key()? {
            match field {
                MapEntry::KEY => key = entry.string(field, wire)?,
                MapEntry::VALUE => value = entry.string(field, wire)?,
                _ => entry.skip(field, wire)?,
            }
        }
        Ok((key, value))
    }

    /// Skips a field no decision reads, as prost's `skip_field` does: a group's fields one by
    /// one, each nesting level counted against the depth budget.
    pub(super) fn skip(&mut self, field: u32, wire: u8) -> Result<(), DecodeError> {
        self.skip_at(field, wire, self.depth)
    }

    fn skip_at(&mut self, field: u32, wire: u8, depth: u32) -> Result<(), DecodeError> {
        let Some(inner_depth) = depth.checked_sub(1) else {
            return Err(self.fail(Fault::TooDeep, field));
        };
        match wire {
            VARINT => self.varint(field).map(drop),
            I64 => self.take(8, field).map(drop),
            LEN => {
                let len = self.varint(field)?;
                self.take(len, field).map(drop)
            }
            I32 => self.take(4, field).map(drop),
            GROUP_START => loop {
                let Some((inner, inner_wire)) = self.key()? else {
                    return Err(self.fail(Fault::Varint, field));
                };
                if inner_wire == GROUP_END {
                    return if inner == field {
                        Ok(())
                    } else {
                        Err(self.fail(Fault::GroupEnd, inner))
                    };
                }
                self.skip_at(inner, inner_wire, inner_depth)?;
            },
            _ => Err(self.fail(Fault::GroupEnd, field)),
        }
    }
}
