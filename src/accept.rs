//! What every listener (gRPC, HTTP, STS) does when accepting a connection fails: pause, with a
//! pause that grows while the failures last, and warn at most once per interval with the number
//! of failures since the last warning.
//!
//! Why: the usual failures (`EMFILE` and `ENFILE` when the process or the system is out of file
//! descriptors, `ENOBUFS`/`ENOMEM`) last until something else frees the resource, and the
//! listener stays readable all that time (the connection waits in the backlog), so retrying at
//! once spins a core and writes a warning per retry while the probes that would notice wait. The
//! listener itself is fine: accepting resumes by itself once the resource is free.
//!
//! It also binds the gRPC listener with a backlog fit for bursts ([`bind`]).
//!
//! It must not: give up on a listener, or decide anything about the connections accepted.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::time::Instant;

/// Connections the kernel completes and queues for a listener before the sidecar accepts them
/// (Linux caps it at `net.core.somaxconn`, 4,096 by default since Linux 5.4).
///
/// `TcpListener::bind` asks for 128: a burst of new connections beyond that, as when Envoy
/// starts or restarts its workers while other clients connect too, is dropped at the SYN and
/// retried by the clients a second later.
pub(super) const LISTEN_BACKLOG: u32 = 1024;

/// A listener on `addr` with a backlog of [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as
/// `TcpListener::bind` sets it, so a restart need not wait for old connections' `TIME_WAIT`).
pub(super) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The pause after a first failure; each failure in a row doubles it.
///
/// Short, so that a one-off failure (a connection reset before it was accepted) costs nothing
/// anyone would notice.
pub(crate) const FIRST_PAUSE: Duration = Duration::from_millis(10);

/// The longest pause: a listener is retried at least this often, so it recovers within about
/// this long of the resource being freed.
pub(crate) const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// At most one warning per listener per interval: the count in the next line says how many
/// failures it stands for, so the log stays readable and cheap however long the failures last.
pub(crate) const WARNING_INTERVAL: Duration = Duration::from_secs(5);

/// One listener's accept failures: the next pause and what is still to be reported.
#[derive(Debug)]
pub(crate) struct AcceptBackoff {
    /// `grpc`, `http` or `sts`, for the log.
    listener: &'static str,
    /// The pause after the next failure.
    pause: Duration,
    /// Failures since the last warning (including the one it reported).
    unreported: u64,
    /// When the last warning was written.
    last_warning: Option<Instant>,
}

impl AcceptBackoff {
    /// A listener that has not failed yet.
    pub(crate) fn new(listener: &'static str) -> Self {
        Self {
            listener,
            pause: FIRST_PAUSE,
            unreported: 0,
            last_warning: None,
        }
    }

    /// A connection was accepted: the next failure pauses briefly again. (The warnings keep
    /// their interval: failures that come and go do not warn more often.)
    pub(crate) fn accepted(&mut self) {
        self.pause = FIRST_PAUSE;
    }

    /// Notes a failed accept, warns if the interval since the last warning has passed, and
    /// returns how long to pause before accepting again.
    pub(crate) fn failed(&mut self, error: &io::Error) -> Duration {
        let now = Instant::now();
        self.unreported = self.unreported.saturating_add(1);
        let pause = self.pause;
        if self
            .last_warning
            .is_none_or(|at| now.duration_since(at) >= WARNING_INTERVAL)
        {
            tracing::warn!(
                message = "Accepting connections failed; pausing before trying again.",
                listener = self.listener,
                error = %error,
                failures = self.unreported,
                pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
            );
            self.unreported = 0;
            self.last_warning = Some(now);
        }
        self.pause = self.pause.saturating_mul(2).min(LONGEST_PAUSE);
        pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::{Capture, JsonLines};

    fn emfile() -> io::Error {
        io::Error::from_raw_os_error(24)
    }

    /// Runs `body` with the warnings it writes captured, and returns them, one per line.
    async fn warnings(body: impl Future<Output = ()>) -> Vec<String> {
        let capture = Capture::default();
        let sink = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLines)
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || sink.clone())
            .finish();
        {
            let _default = tracing::subscriber::set_default(subscriber);
            body.await;
        }
        let text = capture.text();
        text.lines().map(str::to_owned).collect()
    }

    /// The `failures` count of a warning line.
    fn failures(line: &str) -> u64 {
        let (_, rest) = line.split_once("\"failures\":").unwrap();
        rest.split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// 300 connections arriving at once, none accepted yet, all complete their handshake at
    /// once. (With `TcpListener::bind`'s backlog of 128, the 130th waits for the client's SYN
    /// retry, a second later.)
    #[tokio::test]
    async fn a_burst_of_connections_waits_in_the_backlog_without_retries() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = tokio::task::spawn_blocking(move || {
            (0..300)
                .map(|n| {
                    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500))
                        .map_err(|e| format!("connection {n}: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .unwrap();
        assert_eq!(connections.map(|c| c.len()), Ok(300));
        drop(listener);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_in_a_row_pause_longer_and_longer_up_to_the_longest_pause() {
        let mut backoff = AcceptBackoff::new("grpc");
        let mut pauses = Vec::new();
        for _ in 0..10 {
            let pause = backoff.failed(&emfile());
            tokio::time::sleep(pause).await;
            pauses.push(pause.as_millis());
        }
        assert_eq!(
            pauses,
            [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000],
            "doubling from 10 ms, never over 1 s"
        );
        backoff.accepted();
        assert_eq!(
            backoff.failed(&emfile()),
            FIRST_PAUSE,
            "a success resets it"
        );
        assert_eq!(backoff.failed(&emfile()), FIRST_PAUSE * 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lasting_failure_warns_once_per_interval_with_the_count() {
        let start = Instant::now();
        let mut total = 0u64;
        let lines = warnings(async {
            let mut backoff = AcceptBackoff::new("http");
            // A minute of failures, as an accept loop meets them while out of descriptors,
            // with the odd success in between (a descriptor freed and taken again at once).
            while start.elapsed() < Duration::from_secs(60) {
                total += 1;
                if total.is_multiple_of(50) {
                    backoff.accepted();
                }
                let pause = backoff.failed(&emfile());
                assert!(pause >= FIRST_PAUSE, "never retried without a pause");
                tokio::time::sleep(pause).await;
            }
        })
        .await;
        // Without pauses, a minute would have been millions of failures; with them, about one
        // a second once the pause has grown, plus the short ones after each success.
        assert!((60..200).contains(&total), "{total} failures in a minute");
        assert!(
            (10..=13).contains(&lines.len()),
            "one warning per 5 s (at most) over a minute: {lines:#?}"
        );
        let first = lines.first().unwrap();
        assert!(
            first.contains(
                "\"message\":\"Accepting connections failed; pausing before trying again.\""
            ) && first.contains("\"listener\":\"http\"")
                && first.contains("\"pause_ms\":10"),
            "{first}"
        );
        assert!(first.contains(&emfile().to_string()), "{first}");
        assert_eq!(failures(first), 1, "the first failure is reported at once");
        let reported: u64 = lines.iter().map(|l| failures(l)).sum();
        assert!(
            reported <= total && total - reported < 10,
            "every failure is counted in a later line: {reported} of {total}"
        );
    }
}
