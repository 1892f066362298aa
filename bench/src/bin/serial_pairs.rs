//! The interleaved serial phase of `scripts/bench-envoy.py`: one request at a time, alternating
//! between two Envoy listeners (the null authorizer's arm and lattice-authz's), so that every
//! request of one arm has a neighbour of the other measured a few hundred microseconds apart.
//!
//! On a shared machine the speed drifts from second to second by more than the difference being
//! measured; h2load's rounds, seconds long, take that drift into each arm's figures. Here each
//! pair (one request to each arm, the order alternating from pair to pair) sees the same machine,
//! and the median of the pairs' differences is the latency lattice-authz adds.
//!
//! The request is HTTP/1.1 `GET /` with the header lines of `load_request --headers` (`host`
//! included), sent on one keep-alive connection per arm with `TCP_NODELAY`; every answer must be a
//! 200 with a `content-length`. Prints one JSON object: per arm the number of requests and the
//! p50/p99/p99.9 latency in microseconds, and the pairs' differences (second arm minus first) at
//! their 25th, 50th and 75th percentiles.
//!
//! `cargo run --release -p lattice-authz-bench --bin serial_pairs -- HEADERS SECONDS WARMUP_SECONDS ADDR_A ADDR_B`

#![allow(
    missing_docs,
    clippy::print_stderr,
    clippy::print_stdout,
    reason = "benchmark tool, not part of the product"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Longest wait for one answer before the run fails.
const TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [headers, seconds, warmup, a, b] = args.as_slice() else {
        eprintln!("usage: serial_pairs HEADERS SECONDS WARMUP_SECONDS ADDR_A ADDR_B");
        return ExitCode::from(64);
    };
    let (Ok(seconds), Ok(warmup), Ok(a), Ok(b)) = (
        seconds.parse::<u64>(),
        warmup.parse::<u64>(),
        a.parse::<SocketAddr>(),
        b.parse::<SocketAddr>(),
    ) else {
        eprintln!("serial_pairs: SECONDS and WARMUP_SECONDS are whole numbers, ADDR_* host:port");
        return ExitCode::from(64);
    };
    match run(
        headers,
        Duration::from_secs(seconds),
        Duration::from_secs(warmup),
        a,
        b,
    ) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("serial_pairs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    headers: &str,
    duration: Duration,
    warmup: Duration,
    a: SocketAddr,
    b: SocketAddr,
) -> Result<String, String> {
    let text = std::fs::read_to_string(headers).map_err(|e| format!("{headers}: {e}"))?;
    let request = request_bytes(&text)?;
    let mut arms = [Arm::connect(a)?, Arm::connect(b)?];
    let warm_until = Instant::now() + warmup;
    while Instant::now() < warm_until {
        for arm in &mut arms {
            arm.exchange(&request)?;
        }
    }
    let (mut first, mut second, mut differences) = (Vec::new(), Vec::new(), Vec::new());
    let until = Instant::now() + duration;
    let mut a_first = true;
    while Instant::now() < until {
        let [arm_a, arm_b] = &mut arms;
        let (took_a, took_b) = if a_first {
            let took_a = arm_a.exchange(&request)?;
            (took_a, arm_b.exchange(&request)?)
        } else {
            let took_b = arm_b.exchange(&request)?;
            (arm_a.exchange(&request)?, took_b)
        };
        first.push(micros(took_a));
        second.push(micros(took_b));
        differences.push(micros(took_b) - micros(took_a));
        a_first = !a_first;
    }
    if differences.is_empty() {
        return Err("no pair was measured".to_owned());
    }
    let arm = |latencies: &mut Vec<f64>| {
        latencies.sort_by(f64::total_cmp);
        format!(
            "{{\"requests\": {}, \"p50\": {:.1}, \"p99\": {:.1}, \"p999\": {:.1}}}",
            latencies.len(),
            percentile(latencies, 0.50),
            percentile(latencies, 0.99),
            percentile(latencies, 0.999),
        )
    };
    let (first, second) = (arm(&mut first), arm(&mut second));
    differences.sort_by(f64::total_cmp);
    Ok(format!(
        "{{\"first\": {first}, \"second\": {second}, \"pairs\": {}, \"added\": {{\"p25\": {:.1}, \
         \"p50\": {:.1}, \"p75\": {:.1}}}}}",
        differences.len(),
        percentile(&differences, 0.25),
        percentile(&differences, 0.50),
        percentile(&differences, 0.75),
    ))
}

/// `GET /` with the given header lines (`name: value`, one per line).
fn request_bytes(headers: &str) -> Result<Vec<u8>, String> {
    let mut request = b"GET / HTTP/1.1\r\n".to_vec();
    for line in headers.lines().filter(|l| !l.is_empty()) {
        if !line.contains(": ") || line.contains('\r') {
            return Err(format!("not a header line: {line:?}"));
        }
        request.extend_from_slice(line.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    Ok(request)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The value at quantile `q` of `sorted` (nearest rank); `sorted` is not empty.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a rank within the slice's length"
    )]
    let rank = ((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1);
    sorted
        .get(rank.min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}

/// One keep-alive connection to a listener.
struct Arm {
    address: SocketAddr,
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Arm {
    fn connect(address: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect_timeout(&address, TIMEOUT)
            .map_err(|e| format!("cannot connect to {address}: {e}"))?;
        let configured = stream
            .set_nodelay(true)
            .and_then(|()| stream.set_read_timeout(Some(TIMEOUT)))
            .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)));
        configured.map_err(|e| format!("{address}: {e}"))?;
        Ok(Self {
            address,
            stream,
            buffer: Vec::with_capacity(4096),
        })
    }

    /// Sends the request and reads its whole answer, which must be a 200; returns the time taken.
    fn exchange(&mut self, request: &[u8]) -> Result<Duration, String> {
        let started = Instant::now();
        self.stream
            .write_all(request)
            .map_err(|e| format!("{}: cannot send: {e}", self.address))?;
        self.buffer.clear();
        let mut chunk = [0_u8; 4096];
        let mut expected = None;
        loop {
            if let Some(total) = expected {
                if self.buffer.len() >= total {
                    break;
                }
            } else if let Some(end) = memchr::memmem::find(&self.buffer, b"\r\n\r\n") {
                expected = Some(end + 4 + self.head(end)?);
                continue;
            }
            let read = self
                .stream
                .read(&mut chunk)
                .map_err(|e| format!("{}: cannot read the answer: {e}", self.address))?;
            let Some(bytes) = chunk.get(..read).filter(|b| !b.is_empty()) else {
                return Err(format!(
                    "{}: the connection closed mid-answer",
                    self.address
                ));
            };
            self.buffer.extend_from_slice(bytes);
        }
        Ok(started.elapsed())
    }

    /// Checks the status line of the head that ends at `end` and returns the body's length.
    fn head(&self, end: usize) -> Result<usize, String> {
        let head = self.buffer.get(..end).unwrap_or_default();
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap_or_default();
        if !status.starts_with("HTTP/1.1 200 ") {
            return Err(format!("{}: answered {status:?}, not 200", self.address));
        }
        lines
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .ok_or_else(|| format!("{}: an answer without content-length", self.address))
    }
}
