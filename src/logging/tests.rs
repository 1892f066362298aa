//! Tests of the log format and output: JSON escaping, timestamps, one object per event, direct
//! lines equal to the lines events give, and when a batch is written.

use super::*;

fn escaped(text: &str) -> String {
    let mut out = String::new();
    write_json_str(&mut out, text).unwrap();
    out
}

#[test]
fn strings_are_escaped_as_json() {
    assert_eq!(escaped("plain"), "\"plain\"");
    assert_eq!(
        escaped("a\"b\\c\nd\re\tf\u{1}g\u{7f}h é"),
        "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u007fh é\""
    );
    assert_eq!(escaped(""), "\"\"");
}

#[test]
fn escaping_is_detected_at_every_position() {
    let special = [0u8, 0x1f, b'"', b'\\', 0x7f];
    let plain = [0x20u8, b'!', b'#', b'[', b']', b'~', 0x80, 0xff, b'a'];
    for len in 0..20 {
        for at in 0..len {
            for &b in &special {
                let mut text = vec![b'x'; len];
                text[at] = b;
                assert!(needs_escape(&text), "{text:?}");
            }
            for &b in &plain {
                let mut text = vec![b'x'; len];
                text[at] = b;
                assert!(!needs_escape(&text), "{text:?}");
            }
        }
    }
    // A borrow from one byte must not flag its neighbour.
    assert!(!needs_escape(&[
        0x20,
        0x01 + 0x20,
        0x21,
        0x22 + 1,
        0x5c + 1,
        0x7e,
        0x80,
        0x20
    ]));
    assert!(!needs_escape("é日本語 ü".as_bytes()));
}

#[test]
fn timestamps_are_rfc3339_with_microseconds() {
    let mut out = String::new();
    let at = UNIX_EPOCH + Duration::new(1_795_305_600 + 3661, 123_456_789);
    write_timestamp(&mut out, at).unwrap();
    assert_eq!(out, "2026-11-22T01:01:01.123456Z");
    let mut out = String::new();
    write_timestamp(&mut out, UNIX_EPOCH + Duration::new(951_825_599, 7_000)).unwrap();
    assert_eq!(out, "2000-02-29T11:59:59.000007Z");
    let mut out = String::new();
    write_timestamp(&mut out, UNIX_EPOCH).unwrap();
    assert_eq!(out, "1970-01-01T00:00:00.000000Z");
}

#[test]
fn events_are_one_json_object_per_line() {
    let capture = super::Capture::default();
    let sink = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .event_format(JsonLines)
        .with_writer(move || sink.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(
            message = "Authorization decided.",
            decision = "deny",
            status = 403u16,
            ok = false,
            path = %"/a\"b",
            error = ?"x",
        );
    });
    let text = capture.text();
    assert!(text.ends_with("}\n"), "{text}");
    assert_eq!(text.lines().count(), 1);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rest = text.split_once("\"level\"").unwrap().1;
    assert_eq!(
        rest,
        ":\"INFO\",\"message\":\"Authorization decided.\",\"decision\":\"deny\",\
         \"status\":403,\"ok\":false,\"path\":\"/a\\\"b\",\"error\":\"\\\"x\\\"\",\
         \"target\":\"lattice_authz::logging::tests\"}\n"
    );
    assert!(value["timestamp"].as_str().unwrap().ends_with('Z'));
}

/// Everything after the timestamp.
fn untimed(line: &str) -> &str {
    line.split_once("\"level\"").unwrap().1
}

#[test]
fn direct_lines_are_the_lines_an_event_gives() {
    let (sink, capture) = Stdout::in_memory();
    let subscriber = tracing_subscriber::fmt()
        .event_format(JsonLines)
        .with_writer(sink.clone())
        .finish();
    let source: std::net::IpAddr = "10.0.0.1".parse().unwrap();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(
            message = "Authorization decided.",
            decision = "deny",
            status = 403u16,
            path = "/a\"b\\c\u{1}",
            source_ip = %source,
            latency_us = 12u64,
        );
    });
    sink.line(Level::INFO, module_path!(), |line| {
        line.str("message", "Authorization decided.")
            .str("decision", "deny")
            .u64("status", 403)
            .str("path", "/a\"b\\c\u{1}")
            .display("source_ip", source)
            .u64("latency_us", 12);
    });
    let text = String::from_utf8(capture.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(untimed(lines[0]), untimed(lines[1]));
    assert_eq!(
        untimed(lines[1]),
        ":\"INFO\",\"message\":\"Authorization decided.\",\"decision\":\"deny\",\
         \"status\":403,\"path\":\"/a\\\"b\\\\c\\u0001\",\"source_ip\":\"10.0.0.1\",\
         \"latency_us\":12,\"target\":\"lattice_authz::logging::tests\"}\n"
    );
    let value: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(value["path"], "/a\"b\\c\u{1}");
}

/// A sink the test reads, that can be made to block on its next write.
#[derive(Clone, Default)]
struct Gate {
    written: Capture,
    /// (closed, entered): while closed, a write waits; `entered` counts writes begun.
    state: Arc<(Mutex<(bool, u64)>, std::sync::Condvar)>,
}

impl Gate {
    fn close(&self) {
        self.state.0.lock().unwrap().0 = true;
    }

    fn open(&self) {
        self.state.0.lock().unwrap().0 = false;
        self.state.1.notify_all();
    }

    /// Waits (at most 10 s) until a write has begun.
    fn wait_entered(&self) {
        let (lock, cv) = &*self.state;
        let guard = lock.lock().unwrap();
        let (guard, timeout) = cv
            .wait_timeout_while(guard, Duration::from_secs(10), |(_, entered)| *entered == 0)
            .unwrap();
        assert!(
            !timeout.timed_out() && guard.1 > 0,
            "the writer never wrote"
        );
    }

    /// The lines written, once `count` of them are (at most 10 s).
    fn lines(&self, count: usize) -> Vec<String> {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.written.text();
            if text.lines().count() >= count || Instant::now() > give_up {
                return text.lines().map(str::to_owned).collect();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Write for Gate {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        {
            let (lock, cv) = &*self.state;
            let mut state = lock.lock().unwrap();
            state.1 += 1;
            cv.notify_all();
            while state.0 {
                state = cv.wait(state).unwrap();
            }
        }
        self.written.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn info(out: &Stdout, n: u64) {
    out.line(Level::INFO, "t", |line| {
        line.str("message", "Authorization decided.").u64("n", n);
    });
}

#[test]
fn a_warning_is_written_at_once_and_other_lines_wait_for_their_batch() {
    let gate = Gate::default();
    let (out, _guard) = Stdout::with_sink(Box::new(gate.clone()), Duration::from_secs(3600));
    info(&out, 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(gate.written.text(), "", "an info line waits for its batch");
    out.line(Level::WARN, "t", |line| {
        line.str("message", "urgent");
    });
    let lines = gate.lines(2);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("\"n\":1") && lines[1].contains("\"urgent\""),
        "{lines:?}"
    );
}

#[test]
fn the_guard_writes_what_is_left() {
    let gate = Gate::default();
    let (out, guard) = Stdout::with_sink(Box::new(gate.clone()), Duration::from_secs(3600));
    info(&out, 1);
    drop(guard);
    assert_eq!(gate.written.text().lines().count(), 1);
}

/// With standard output blocked, lines fill the buffer and the rest are dropped and counted,
/// exactly; writing a line never waits for the output; once it moves again, every kept line is
/// written, in order.
#[test]
fn a_blocked_output_drops_and_counts_what_does_not_fit_without_slowing_the_writers() {
    let gate = Gate::default();
    gate.close();
    let (out, _guard) = Stdout::with_sink(Box::new(gate.clone()), Duration::from_millis(1));
    // The writer takes a first line and blocks writing it: the buffer is empty again.
    out.line(Level::WARN, "t", |line| {
        line.str("message", "first");
    });
    gate.wait_entered();

    let (probe, probe_lines) = Stdout::in_memory();
    info(&probe, 100_000);
    let line_bytes = probe_lines.lock().unwrap().len();
    let fits = MAX_PENDING_BYTES / line_bytes;
    let sent = fits + 1_000;
    let started = Instant::now();
    for n in 0..sent {
        info(&out, 100_000 + n as u64);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{sent} lines took {took:?}");
    assert_eq!(out.dropped_lines(), 1_000);

    gate.open();
    let lines = gate.lines(1 + fits);
    assert_eq!(lines.len(), 1 + fits);
    assert!(lines[0].contains("\"first\""), "{}", lines[0]);
    assert!(lines[1].contains("\"n\":100000,"), "{}", lines[1]);
    assert!(
        lines[fits].contains(&format!("\"n\":{},", 100_000 + fits - 1)),
        "{}",
        lines[fits]
    );
    assert_eq!(
        out.dropped_lines(),
        1_000,
        "nothing more once the output moves"
    );
}
