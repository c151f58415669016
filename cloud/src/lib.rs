//! The server side of altair-sphere: `altair-cloud broker init` provisions a hardened
//! Mosquitto (certificates, configuration, passwords, ACLs, systemd units) in one
//! directory, `altair-cloud doctor` checks such a directory end to end,
//! `altair-cloud term` is a terminal for a device ([`term`]), and `altair-cloud web
//! serve` serves the browser terminal's page ([`web`]).
//!
//! The binary (`src/main.rs`) only parses the command line; everything is here so the
//! tests and the doctor share it. [`broker::layout::Layout`] and
//! [`broker::record::BrokerRecord`] are the contract between `init` and `doctor`;
//! [`mqtt`] is the MQTT client the doctor, the terminal and the tests talk to the broker
//! with, and [`channel`] one device's topics over it.

pub mod broker;
pub mod channel;
pub mod doctor;
pub mod local_broker;
pub mod mqtt;
pub mod ports;
pub mod programs;
pub mod term;
pub mod vdisk;
pub mod web;
