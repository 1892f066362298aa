//! Integration tests: one binary, one module per concern.

mod policy_api;
mod policy_props;
mod policy_validation;
mod policy_vectors;
