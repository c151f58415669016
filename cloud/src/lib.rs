//! The server side of altair-sphere: `altair-cloud broker init` provisions a hardened
//! Mosquitto (certificates, configuration, passwords, ACLs, systemd units) in one
//! directory, and `altair-cloud doctor` checks such a directory end to end.
//!
//! The binary (`src/main.rs`) only parses the command line; everything is here so the
//! tests and the doctor share it. [`broker::layout::Layout`] and
//! [`broker::record::BrokerRecord`] are the contract between `init` and `doctor`;
//! [`mqtt`] is the MQTT client the doctor and the tests talk to the broker with.

pub mod broker;
pub mod doctor;
pub mod local_broker;
pub mod mqtt;
pub mod ports;
pub mod programs;
