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
//! - [`Stdout`] batches lines in a buffer that a writer thread writes when 64 KiB have gathered,
//!   when an event at `WARN` or above arrives, and at least every 100 ms; [`FlushGuard`] writes
//!   the rest when the process ends. A batch is written with one call, so lines never
//!   interleave.
//!
//! The buffer is bounded ([`MAX_PENDING_BYTES`]): when standard output does not keep up (a log
//! collector that stalls, a pipe nobody reads) and the buffer is full, a line is dropped and
//! counted ([`dropped_lines`], exported as `lattice_authz_log_lines_dropped_total`) instead of
//! waiting. A Check only ever appends to the buffer: it never writes, so a blocked standard
//! output never slows or stops a decision, and memory stays bounded whatever the flood of
//! denies. A burst the writer cannot write at once waits in the buffer: at about 640 bytes a
//! decision line, 4 MiB holds some 6,500 lines, so ordinary load drops nothing.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Bytes gathered before the writer writes them.
const BUFFER_BYTES: usize = 64 * 1024;
/// Longest a line waits in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Most bytes waiting to be written; a line that does not fit is dropped and counted. (While
/// the writer writes one batch of up to this size, the next one gathers: at most twice this is
/// held.)
pub const MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;

/// The lines dropped by the process's standard output ([`Stdout::start`]), for its metric.
static PROCESS_DROPPED: OnceLock<Arc<Shared>> = OnceLock::new();

/// Log lines the process dropped because standard output did not keep up (0 before
/// [`Stdout::start`]).
pub fn dropped_lines() -> u64 {
    PROCESS_DROPPED
        .get()
        .map_or(0, |shared| shared.dropped.load(Ordering::Relaxed))
}

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

    /// `"key":"value"`, escaped, or nothing for `None` (as an event records an `Option`).
    pub fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.str(key, value),
            None => self,
        }
    }

    /// `"key":n`, or nothing for `None` (as an event records an `Option`).
    pub fn opt_u64(&mut self, key: &str, value: Option<u64>) -> &mut Self {
        match value {
            Some(value) => self.u64(key, value),
            None => self,
        }
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

/// Standard output, written in batches by a writer thread (see the module docs).
#[derive(Debug, Clone)]
pub struct Stdout {
    /// Lines waiting for the writer.
    buffer: Arc<Mutex<Vec<u8>>>,
    shared: Arc<Shared>,
}

/// What the lines' writers and the writer thread share besides the buffer.
#[derive(Debug, Default)]
struct Shared {
    /// Wakes the writer: a batch is full, or a line is urgent.
    wake: Condvar,
    /// A line at `WARN` or above is waiting.
    urgent: AtomicBool,
    /// Lines dropped because the buffer was full.
    dropped: AtomicU64,
}

/// Where batches go: held by whoever writes one, so that batches leave in order.
type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// Writes whatever is still buffered when dropped (at the end of `main`).
#[must_use = "dropping the guard flushes the log; keep it until the process ends"]
pub struct FlushGuard {
    out: Stdout,
    sink: Sink,
}

impl fmt::Debug for FlushGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlushGuard").finish_non_exhaustive()
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        let mut sink = lock(&self.sink);
        let mut rest = std::mem::take(&mut *self.out.lock());
        write_batch(&mut **sink, &mut rest);
    }
}

impl Stdout {
    /// The process's batched standard output, its writer thread, and the guard that writes the
    /// rest. Its dropped lines are the process's ([`dropped_lines`]).
    pub fn start() -> (Self, FlushGuard) {
        let (out, guard) = Self::with_sink(Box::new(io::stdout()), FLUSH_EVERY);
        let _ = PROCESS_DROPPED.set(out.shared.clone());
        (out, guard)
    }

    /// An output written to `sink` by a writer thread, at least every `flush_every`.
    fn with_sink(sink: Box<dyn Write + Send>, flush_every: Duration) -> (Self, FlushGuard) {
        let out = Self {
            buffer: Arc::new(Mutex::new(Vec::with_capacity(BUFFER_BYTES))),
            shared: Arc::default(),
        };
        let sink: Sink = Arc::new(Mutex::new(sink));
        let writer = (out.clone(), sink.clone());
        // A failure to start the thread leaves the lines in the buffer until the guard writes
        // them at exit; once it is full, lines are dropped and counted.
        let _ = std::thread::Builder::new()
            .name("lattice-authz-log".into())
            .spawn(move || {
                let (out, sink) = writer;
                let mut batch = Vec::with_capacity(BUFFER_BYTES);
                loop {
                    out.wait_for_batch(flush_every);
                    let mut sink = lock(&sink);
                    std::mem::swap(&mut *out.lock(), &mut batch);
                    write_batch(&mut **sink, &mut batch);
                }
            });
        (out.clone(), FlushGuard { out, sink })
    }

    /// An output whose lines stay in memory, and the buffer they can be read from (tests).
    #[cfg(test)]
    pub(crate) fn in_memory() -> (Self, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        (
            Self {
                buffer: buffer.clone(),
                shared: Arc::default(),
            },
            buffer,
        )
    }

    /// Lines this output dropped because standard output did not keep up.
    pub fn dropped_lines(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
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

    /// Appends one line (or drops and counts it when the buffer is full), waking the writer
    /// when a batch is ready or the line is `urgent`. Never writes.
    fn append(&self, bytes: &[u8], urgent: bool) {
        let mut buffer = self.lock();
        if buffer.len().saturating_add(bytes.len()) > MAX_PENDING_BYTES {
            drop(buffer);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        buffer.extend_from_slice(bytes);
        let full = buffer.len() >= BUFFER_BYTES;
        drop(buffer);
        if urgent {
            self.shared.urgent.store(true, Ordering::Relaxed);
        }
        if urgent || full {
            self.shared.wake.notify_one();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        lock(&self.buffer)
    }

    /// Returns once a batch is full, an urgent line waits, or `flush_every` has passed.
    fn wait_for_batch(&self, flush_every: Duration) {
        let until = Instant::now() + flush_every;
        let mut buffer = self.lock();
        while buffer.len() < BUFFER_BYTES && !self.shared.urgent.swap(false, Ordering::Relaxed) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            buffer = self
                .shared
                .wake
                .wait_timeout(buffer, left)
                .map_or_else(|e| e.into_inner().0, |(b, _)| b);
        }
    }
}

/// A lock that a panic while holding it does not spoil: the data are whole lines either way.
fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes and empties `batch`, keeping its allocation unless a burst grew it. A failed write
/// drops the batch: logging must never stop a decision, and there is nowhere else to report it.
fn write_batch(sink: &mut dyn Write, batch: &mut Vec<u8>) {
    if !batch.is_empty() {
        let _ = sink.write_all(batch).and_then(|()| sink.flush());
        batch.clear();
        if batch.capacity() > 2 * BUFFER_BYTES {
            batch.shrink_to(BUFFER_BYTES);
        }
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
