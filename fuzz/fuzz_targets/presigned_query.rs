//! Fuzzes the presigned (query-string) parameter parser.
#![no_main]

libfuzzer_sys::fuzz_target!(|query: &str| drop(lattice_authz::sigv4::parse_presigned_query(query)));
