//! Any text as a world file (YAML or JSON, one or more documents): parsing, merging,
//! validation and compilation must return a snapshot or problems, never panic or hang. A fresh
//! store per input, so that no compiled-policy cache carries one input into the next.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use lattice_authz::config::Settings;
use lattice_authz::store::Store;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let now = UNIX_EPOCH + Duration::from_secs(1_795_348_800);
    let store = Store::new(Settings::default());
    drop(
        store
            .build_from_text("world.yaml", text, now)
            .map_err(|e| e.to_string()),
    );
});
