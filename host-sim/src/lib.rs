//! host-sim: the Altair firmware core on a laptop.
//!
//! The same `altair-firmware` machine the device runs, with the host's pieces plugged in:
//! files for disks ([`file_disk`]) or the virtual disk over MQTT ([`drive`]), the terminal for the console (`altair-console`) and the
//! wall clock for pacing ([`machine_loop`]), or std networking for the terminal over MQTT
//! ([`mqtt_mode`], [`net_host`]). The `host-sim` binary is a thin CLI over it.

pub mod com;
pub mod drive;
pub mod file_disk;
pub mod lights;
pub mod machine_loop;
pub mod media;
pub mod mqtt_mode;
pub mod net_host;
pub mod setup;
