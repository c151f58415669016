//! The Altair 8800.

pub mod memory;
