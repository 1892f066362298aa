//! Any text: compile must return (never panic, never loop), and a compiled policy must
//! evaluate and re-serialise.
#![no_main]

use lattice_authz::policy::{ParseOptions, Policy, PolicyKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    let _ =
        Policy::compile(data, &ParseOptions::new(PolicyKind::Resource)).map(|c| c.policy.to_json());
});
