//! The wall clock that decisions read (a signature's age, `aws:CurrentTime`): the system clock in
//! production, a fixed instant in tests and `check --now`. Everything below `authz` takes the time
//! as a parameter read from here. It must not time the Check path: those readings are the TSC's,
//! through `quanta`, taken in `authz`.

use std::time::SystemTime;

/// Where time comes from: the system clock in production, fixed in tests.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system clock: the one place lattice-authz reads wall time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one call site that reads the wall clock"
    )]
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock stuck at one instant (tests, `check --now`).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}
