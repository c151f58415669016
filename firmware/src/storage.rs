//! Platform traits.
