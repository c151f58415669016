//! Where every file of a broker directory lives: the one list `broker init` writes and
//! `doctor` reads.
//!
//! ```text
//! DIR/ca.crt                       CA certificate                  0644
//! DIR/ca.key                       CA private key (secret)         0600 root, never the broker's
//! DIR/server.crt                   server certificate (DNS SAN = host)  0644
//! DIR/server.key                   server private key (secret)     0600, the broker user's
//! DIR/devices/                                                     0700
//! DIR/devices/<ID>.crt             device certificate (CN = ID)    0644
//! DIR/devices/<ID>.key             device private key (secret)     0600
//! DIR/mosquitto.conf               broker configuration            0644
//! DIR/passwd                       web users' password hashes      0600, the broker user's
//! DIR/acl                          device listener ACL             0600, the broker user's
//! DIR/acl-web                      WebSockets listener ACL         0600, the broker user's
//! DIR/acl-local                    local (127.0.0.1) listener ACL  0600, the broker user's
//! DIR/data/                        broker persistence              0700, the broker user's
//! DIR/disks/                       disk images of the disk server  0700
//! DIR/systemd/altair-mosquitto.service, DIR/systemd/altair-vdisk.service
//! DIR/broker.toml                  what init was told (see record.rs)
//! DIR/README.md                    how to install and run it
//! DIR/web/                         the browser terminal, for a static web host  0644 files
//! ```

use std::path::{Path, PathBuf};

/// The paths of one broker directory. All paths are `dir` joined with a fixed name, so they
/// are absolute when `dir` is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// The layout of the broker directory `dir` (nothing is checked or created).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The broker directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `DIR/ca.crt`: the CA certificate devices and browsers trust.
    pub fn ca_crt(&self) -> PathBuf {
        self.dir.join(altair_pki::CA_CERT_FILE)
    }

    /// `DIR/ca.key`: the CA private key. Secret; only root (or the user who ran init) reads it.
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join(altair_pki::CA_KEY_FILE)
    }

    /// `DIR/server.crt`: the broker's certificate, DNS SAN = the host.
    pub fn server_crt(&self) -> PathBuf {
        self.dir.join("server.crt")
    }

    /// `DIR/server.key`: the broker's private key. Secret; readable by the broker user.
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// `DIR/devices`: the device certificates and keys.
    pub fn devices_dir(&self) -> PathBuf {
        self.dir.join("devices")
    }

    /// `DIR/devices/<id>.crt`: a device's certificate (CN = the device id).
    pub fn device_crt(&self, id: &str) -> PathBuf {
        self.devices_dir().join(format!("{id}.crt"))
    }

    /// `DIR/devices/<id>.key`: a device's private key. Secret.
    pub fn device_key(&self, id: &str) -> PathBuf {
        self.devices_dir().join(format!("{id}.key"))
    }

    /// `DIR/mosquitto.conf`.
    pub fn mosquitto_conf(&self) -> PathBuf {
        self.dir.join("mosquitto.conf")
    }

    /// `DIR/passwd`: the web users' password hashes, in Mosquitto's format. Secret.
    pub fn passwd(&self) -> PathBuf {
        self.dir.join("passwd")
    }

    /// `DIR/acl`: the ACL of the device (mutual TLS) listener.
    pub fn acl(&self) -> PathBuf {
        self.dir.join("acl")
    }

    /// `DIR/acl-web`: the ACL of the browser (WebSockets) listener.
    pub fn acl_web(&self) -> PathBuf {
        self.dir.join("acl-web")
    }

    /// `DIR/acl-local`: the ACL of the plain listener on 127.0.0.1 (the disk server).
    pub fn acl_local(&self) -> PathBuf {
        self.dir.join("acl-local")
    }

    /// `DIR/data/`: Mosquitto's persistence directory (with the trailing slash Mosquitto
    /// wants in `persistence_location`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data/")
    }

    /// `DIR/disks`: the disk server's images.
    pub fn disks_dir(&self) -> PathBuf {
        self.dir.join("disks")
    }

    /// `DIR/systemd`: the unit files to install.
    pub fn systemd_dir(&self) -> PathBuf {
        self.dir.join("systemd")
    }

    /// `DIR/systemd/altair-mosquitto.service`: the broker's unit.
    pub fn broker_unit(&self) -> PathBuf {
        self.systemd_dir().join(crate::broker::systemd::BROKER_UNIT)
    }

    /// `DIR/systemd/altair-vdisk.service`: the disk server's unit.
    pub fn vdisk_unit(&self) -> PathBuf {
        self.systemd_dir().join(crate::broker::systemd::VDISK_UNIT)
    }

    /// `DIR/broker.toml`: the record of what init was told.
    pub fn record(&self) -> PathBuf {
        self.dir.join(crate::broker::record::RECORD_FILE)
    }

    /// `DIR/README.md`.
    pub fn readme(&self) -> PathBuf {
        self.dir.join("README.md")
    }

    /// `DIR/web`: the browser terminal's page and its `config.json`, for any static host.
    pub fn web_dir(&self) -> PathBuf {
        self.dir.join("web")
    }

    /// `DIR/letsencrypt-dir/fullchain.pem` and `privkey.pem`: the Let's Encrypt
    /// certificate chain and key the WebSockets listener uses when a Let's Encrypt
    /// directory is configured.
    pub fn letsencrypt_files(letsencrypt_dir: &Path) -> (PathBuf, PathBuf) {
        (
            letsencrypt_dir.join("fullchain.pem"),
            letsencrypt_dir.join("privkey.pem"),
        )
    }
}
