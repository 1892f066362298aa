//! Placeholder: filled in by the skeleton author.
