//! The `lattice-authz` command line.
fn main() {}
