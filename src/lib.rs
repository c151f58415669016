//! The altair-sphere device application crate.
#![no_std]
pub use altair_firmware as firmware;
