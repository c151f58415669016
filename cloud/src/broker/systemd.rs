//! The systemd units of the broker and the disk server (`DIR/systemd/`), to be copied to
//! `/etc/systemd/system/` (see the README init writes).

use crate::broker::layout::Layout;
use crate::broker::record::BrokerRecord;

/// The broker unit's file name.
pub const BROKER_UNIT: &str = "altair-mosquitto.service";
/// The disk server unit's file name.
pub const VDISK_UNIT: &str = "altair-vdisk.service";
/// Where the units expect the `altair-cloud` binary (`cargo install --path cloud --root
/// /usr/local` puts it there).
pub const INSTALLED_BINARY: &str = "/usr/local/bin/altair-cloud";
/// Debian's Mosquitto binary.
pub const MOSQUITTO_BINARY: &str = "/usr/sbin/mosquitto";

/// The broker's unit: Mosquitto with `DIR/mosquitto.conf`, restarted when it fails.
///
/// `Type=notify` as in Debian's own `mosquitto.service` (Debian builds Mosquitto with
/// systemd support). Mosquitto is started as root and switches to its `user` itself.
pub fn render_broker(layout: &Layout) -> String {
    format!(
        "\
# Written by `altair-cloud broker init`. Install: see {readme}
[Unit]
Description=Mosquitto MQTT broker for altair-sphere ({dir})
Documentation=man:mosquitto.conf(5) man:mosquitto(8)
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart={mosquitto} -c {conf}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
",
        readme = layout.readme().display(),
        dir = layout.dir().display(),
        mosquitto = MOSQUITTO_BINARY,
        conf = layout.mosquitto_conf().display(),
    )
}

/// The disk server's unit: `altair-cloud vdisk serve` on the local listener, for every
/// device, with images in `DIR/disks`; started after the broker, restarted when it fails.
pub fn render_vdisk(layout: &Layout, record: &BrokerRecord) -> String {
    let disks = layout.disks_dir();
    format!(
        "\
# Written by `altair-cloud broker init`. Install: see {readme}
[Unit]
Description=altair-sphere disk server ({dir})
After=altair-mosquitto.service
Wants=altair-mosquitto.service

[Service]
ExecStart={exe} vdisk serve --broker mqtt://127.0.0.1:{port} --dir {disks} --all
Restart=on-failure
RestartSec=2
# It needs to write only its disk images.
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=strict
ReadWritePaths={disks}

[Install]
WantedBy=multi-user.target
",
        readme = layout.readme().display(),
        dir = layout.dir().display(),
        exe = INSTALLED_BINARY,
        port = record.local_port,
        disks = disks.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_name_the_directory_and_restart_on_failure() {
        let layout = Layout::new("/srv/b");
        let record = BrokerRecord {
            local_port: 1999,
            ..BrokerRecord::example()
        };
        let broker = render_broker(&layout);
        assert!(broker.contains("\nExecStart=/usr/sbin/mosquitto -c /srv/b/mosquitto.conf\n"));
        assert!(broker.contains("\nRestart=on-failure\n"));
        let vdisk = render_vdisk(&layout, &record);
        assert!(vdisk.contains(
            "\nExecStart=/usr/local/bin/altair-cloud vdisk serve --broker mqtt://127.0.0.1:1999 \
             --dir /srv/b/disks --all\n"
        ));
        assert!(vdisk.contains("\nAfter=altair-mosquitto.service\n"));
        assert!(vdisk.contains("\nRestart=on-failure\n"));
    }
}
