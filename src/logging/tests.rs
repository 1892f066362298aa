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
    let capture = Arc::new(Mutex::new(Vec::new()));
    let sink = Stdout {
        buffer: capture.clone(),
    };
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

#[test]
fn warnings_written_directly_are_written_at_once() {
    let capture = Arc::new(Mutex::new(Vec::new()));
    let sink = Stdout {
        buffer: capture.clone(),
    };
    sink.line(Level::INFO, "t", |line| {
        line.str("message", "kept");
    });
    assert!(!capture.lock().unwrap().is_empty(), "an info line waits");
    sink.line(Level::WARN, "t", |line| {
        line.str("message", "urgent");
    });
    assert!(
        capture.lock().unwrap().is_empty(),
        "a warning flushes the batch"
    );
}
