//! Fuzzes the `Authorization` header parser.
#![no_main]

libfuzzer_sys::fuzz_target!(|value: &[u8]| drop(lattice_authz::sigv4::parse_authorization(value)));
