//! Any text as an ARN, an ARN pattern and a glob, matched against itself.
#![no_main]

use lattice_authz::policy::{Arn, ArnPattern, Glob};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    let _ = Arn::parse(data);
    let _ = ArnPattern::new(data).map(|p| p.matches(data));
    let _ = Glob::new(data, true).matches(data);
});
