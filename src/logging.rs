//! Log output: one JSON object per event (or tracing's text format), on stdout, in batches.
//!
//! Every Check writes a decision line, so the line's cost is part of the Check's: under load,
//! tracing-subscriber's JSON formatter and a `write` per line cost more than the decision itself
//! (`scripts/bench-load.py` shows it). Here:
//!
//! - [`JsonLines`] formats an event straight into the output buffer: no intermediate map, no
//!   `serde_json`, escaping on the fly. Keys: `timestamp` (RFC 3339, microseconds, UTC), `level`,
//!   the event's fields in order (`message` first), `target`.
//! - [`Stdout::line`] writes a line in the same format without going through `tracing` at all:
//!   the decision line of every Check takes this path when the JSON format is installed
//!   ([`install_direct`]), which saves the event dispatch, the field visitor and a copy.
//! - [`Stdout`] batches lines in a 64 KiB buffer, written when full, when an event at `WARN` or
//!   above arrives, and at least every 100 ms by a flusher thread; [`FlushGuard`] writes the rest
//!   when the process ends. A batch is written with one call, so lines never interleave.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Bytes buffered before a write.
const BUFFER_BYTES: usize = 64 * 1024;
/// Longest a line waits in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// One JSON object per line (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        #[expect(
            clippy::disallowed_methods,
            reason = "log timestamps are wall-clock time by definition"
        )]
        let now = SystemTime::now();
        writer.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut writer, now)?;
        let meta = event.metadata();
        write!(writer, "\",\"level\":\"{}\"", meta.level())?;
        let mut fields = JsonFields {
            out: &mut writer,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_str(",\"target\":")?;
        write_json_str(&mut writer, meta.target())?;
        writer.write_str("}\n")
    }
}

/// The output that [`Stdout::line`] writes to, once JSON lines are installed as the process's
/// log format.
static DIRECT: OnceLock<Stdout> = OnceLock::new();

/// Makes `out` the destination of direct lines ([`direct`]). Call it once, after installing a
/// subscriber that formats with [`JsonLines`] into the same `out`; later calls change nothing.
pub fn install_direct(out: Stdout) {
    let _ = DIRECT.set(out);
}

/// The destination of direct JSON lines, if the process installed one.
pub fn direct() -> Option<Stdout> {
    DIRECT.get().cloned()
}

/// The fields of one direct line, written in call order after `timestamp` and `level`.
#[derive(Debug)]
pub struct JsonLine<'a> {
    out: &'a mut String,
}

impl JsonLine<'_> {
    /// `,"key":`. Keys are the program's own identifiers, written as they are.
    fn key(&mut self, key: &str) {
        debug_assert!(!needs_escape(key.as_bytes()), "{key}");
        self.out.push_str(",\"");
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    /// `"key":"value"`, escaped.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        let _ = write_json_str(self.out, value);
        self
    }

    /// `"key":"value"` from `value`'s `Display`, escaped (what `key = %value` gives in an event).
    pub fn display(&mut self, key: &str, value: impl fmt::Display) -> &mut Self {
        self.key(key);
        self.out.push('"');
        let _ = write!(Escaped(&mut *self.out), "{value}");
        self.out.push('"');
        self
    }

    /// `"key":n`.
    pub fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        let _ = write!(self.out, "{value}");
        self
    }
}

thread_local! {
    /// Each thread formats its lines here, then appends them to the batch in one copy.
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(1024));
}

/// `2026-11-22T18:50:04.423825Z`.
fn write_timestamp(out: &mut impl fmt::Write, at: SystemTime) -> fmt::Result {
    let text = timestamp(at);
    // Only ASCII digits and separators are written into `text`.
    out.write_str(std::str::from_utf8(&text).unwrap_or_default())
}

/// The RFC 3339 text of `at`, digit by digit (this runs once per decision line, and `write!`
/// with seven padded arguments cost more than the rest of the line's formatting).
fn timestamp(at: SystemTime) -> [u8; 27] {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
    let (y, mo, d, h, mi, s) = crate::civil::civil(secs);
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, value: i64| {
        let mut v = value.max(0);
        for i in (at..at + width).rev() {
            if let Some(slot) = text.get_mut(i) {
                // `v % 10` is a single digit.
                *slot = b'0' + u8::try_from(v % 10).unwrap_or(0);
            }
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, mo);
    put(8, 2, d);
    put(11, 2, h);
    put(14, 2, mi);
    put(17, 2, s);
    put(20, 6, i64::from(since.subsec_micros()));
    text
}

/// Writes each field as `,"name":value`.
struct JsonFields<'w, 'a> {
    out: &'w mut Writer<'a>,
    result: fmt::Result,
}

impl JsonFields<'_, '_> {
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = (|| {
                self.out.write_char(',')?;
                write_json_str(self.out, field.name())?;
                self.out.write_char(':')?;
                value(self.out)
            })();
        }
    }
}

impl Visit for JsonFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |out| write_json_str(out, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |out| write!(out, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |out| write!(out, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.field(field, |out| write!(out, "{value}"));
        } else {
            self.field(field, |out| write!(out, "\"{value}\""));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, |out| {
            out.write_char('"')?;
            write!(Escaped(out), "{value}")?;
            out.write_char('"')
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%x` fields arrive here too, as a `Debug` that prints their `Display`.
        self.field(field, |out| {
            out.write_char('"')?;
            write!(Escaped(out), "{value:?}")?;
            out.write_char('"')
        });
    }
}

fn write_json_str(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(&mut *out).write_str(text)?;
    out.write_char('"')
}

/// Whether `text` holds a byte that JSON strings escape (control characters, DEL, `"`, `\\`).
/// Eight bytes at a time: every value of every decision line passes through here.
fn needs_escape(text: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte of `x` is zero ⇔ its high bit is set in `zero(x)` (no false positives once
    // bytes ≥ 0x80 are masked out with `!word`).
    let has = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let special = |word: u64| {
        // Bytes below 0x20: subtracting 0x20 borrows into the high bit.
        let low = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        low | has(word, b'"') | has(word, b'\\') | has(word, 0x7f)
    };
    let mut chunks = text.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if special(u64::from_le_bytes(word)) != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f)
}

/// A writer that escapes what passes through it as the inside of a JSON string.
struct Escaped<'w, W: fmt::Write + ?Sized>(&'w mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if !needs_escape(text.as_bytes()) {
            return self.0.write_str(text);
        }
        let mut plain_from = 0;
        for (i, c) in text.char_indices() {
            let escape = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                c if u32::from(c) < 0x20 || c == '\u{7f}' => "",
                _ => continue,
            };
            self.0
                .write_str(text.get(plain_from..i).unwrap_or_default())?;
            if escape.is_empty() {
                write!(self.0, "\\u{:04x}", u32::from(c))?;
            } else {
                self.0.write_str(escape)?;
            }
            plain_from = i + c.len_utf8();
        }
        self.0.write_str(text.get(plain_from..).unwrap_or_default())
    }
}

/// Standard output, written in batches (see the module docs).
#[derive(Debug, Clone)]
pub struct Stdout {
    buffer: Arc<Mutex<Vec<u8>>>,
}

/// Writes whatever is still buffered when dropped (at the end of `main`).
#[derive(Debug)]
#[must_use = "dropping the guard flushes the log; keep it until the process ends"]
pub struct FlushGuard(Stdout);

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.0.flush_buffer();
    }
}

impl Stdout {
    /// The batched standard output, its flusher thread, and the guard that writes the rest.
    pub fn start() -> (Self, FlushGuard) {
        let out = Self {
            buffer: Arc::new(Mutex::new(Vec::with_capacity(BUFFER_BYTES))),
        };
        let flusher = out.clone();
        // A failure to start the thread leaves WARN-and-above and full-buffer writes, which
        // still flush; nothing is lost at exit thanks to the guard.
        let _ = std::thread::Builder::new()
            .name("lattice-authz-log".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    flusher.flush_buffer();
                }
            });
        (out.clone(), FlushGuard(out))
    }

    /// An output that keeps its lines in memory, and the buffer they can be read from (tests).
    #[cfg(test)]
    pub(crate) fn in_memory() -> (Self, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        (
            Self {
                buffer: buffer.clone(),
            },
            buffer,
        )
    }

    /// Writes one line exactly as [`JsonLines`] formats an event at `level` from `target` whose
    /// fields `fields` writes, without going through `tracing` (the caller checks that the
    /// level is enabled).
    pub fn line(&self, level: Level, target: &str, fields: impl FnOnce(&mut JsonLine<'_>)) {
        #[expect(
            clippy::disallowed_methods,
            reason = "log timestamps are wall-clock time by definition"
        )]
        let now = SystemTime::now();
        let format = |out: &mut String| {
            out.clear();
            out.push_str("{\"timestamp\":\"");
            let _ = write_timestamp(out, now);
            let _ = write!(out, "\",\"level\":\"{level}\"");
            fields(&mut JsonLine { out: &mut *out });
            out.push_str(",\"target\":");
            let _ = write_json_str(out, target);
            out.push_str("}\n");
        };
        let urgent = level <= Level::WARN;
        // A line written while this thread is already writing one (a `Display` that logs)
        // gets its own buffer instead of a second borrow.
        LINE.with(|cell| {
            let mut spare = String::new();
            let mut shared = cell.try_borrow_mut();
            let out = match &mut shared {
                Ok(line) => &mut **line,
                Err(_) => &mut spare,
            };
            format(out);
            self.append(out.as_bytes(), urgent);
        });
    }

    fn append(&self, bytes: &[u8], urgent: bool) {
        let mut buffer = self.lock();
        if buffer.len() + bytes.len() > BUFFER_BYTES {
            write_out(&mut buffer);
        }
        buffer.extend_from_slice(bytes);
        if urgent {
            write_out(&mut buffer);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // A panic while holding the lock leaves whole lines in the buffer: keep using it.
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn flush_buffer(&self) {
        let mut buffer = self.lock();
        write_out(&mut buffer);
    }
}

/// Writes and empties `buffer`. A failed write drops the batch: logging must never stop a
/// decision, and there is nowhere else to report it.
fn write_out(buffer: &mut Vec<u8>) {
    if !buffer.is_empty() {
        let mut stdout = io::stdout().lock();
        let _ = stdout.write_all(buffer).and_then(|()| stdout.flush());
        buffer.clear();
    }
}

/// One event's writer: appends to the batch, written now if the event is urgent.
#[derive(Debug)]
pub struct Line<'a> {
    out: &'a Stdout,
    urgent: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.out.append(bytes, self.urgent);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Stdout {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            out: self,
            urgent: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        Line {
            out: self,
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

/// A writer that keeps every byte written to it, for tests that read the lines they log.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Vec<u8>>>);

#[cfg(test)]
impl Capture {
    /// What was written, as text.
    pub(crate) fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
impl io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
