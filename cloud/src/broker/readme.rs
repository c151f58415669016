//! `DIR/README.md`: how to install and run what init wrote, for whoever looks at the
//! directory on the server.

use std::fmt::Write as _;

use crate::broker::layout::Layout;
use crate::broker::record::BrokerRecord;
use crate::broker::systemd::{BROKER_UNIT, INSTALLED_BINARY, VDISK_UNIT};

/// Renders the README of the broker directory.
pub fn render(layout: &Layout, record: &BrokerRecord, broker_user: Option<&str>) -> String {
    let dir = layout.dir().display().to_string();
    let host = &record.host;
    let devices = record.devices.join(", ");
    let owner = match broker_user {
        Some(user) => format!(
            "Mosquitto is started as root and switches to the user `{user}` before it reads \
             its files, so `server.key`, `passwd`, the ACLs and `data/` belong to `{user}` \
             (mode 0600/0700); `ca.key` and the device keys stay root's and the broker \
             cannot read them."
        ),
        None => "init did not run as root, so every file belongs to the user who ran it and \
                 Mosquitto must run as that user too (the configuration has no `user` line)."
            .to_owned(),
    };
    let mut r = String::new();
    let _ = write!(
        r,
        "\
# altair-sphere broker: {host}

Written by `altair-cloud broker init`. Run it again on this directory to add a device
or a web user, or after editing `broker.toml`; it keeps the CA and the existing
certificates and regenerates everything else. `altair-cloud doctor {dir}` checks it all.

| port | who | how |
|---|---|---|
| {tls} | devices | MQTT over TLS 1.3, client certificate from this CA (CN = device id) |
| {ws} | browsers | MQTT over WebSockets over TLS, user name + password |
| {local} (127.0.0.1 only) | the disk server on this host | plain MQTT, disk topics only |

Devices: {devices}. Each may use only `altair/<its id>/#`.

## Files

| file | what | secret |
|---|---|---|
| `ca.crt` | the CA certificate: devices trust it, browsers may import it | no |
| `ca.key` | the CA key: whoever has it can make device certificates | **yes**, root only; keep a copy offline |
| `server.crt`, `server.key` | the broker's certificate (DNS name `{host}`) and key | key: **yes** |
| `devices/<id>.crt`, `devices/<id>.key` | each device's certificate and key | key: **yes**; it belongs on that device only |
| `passwd` | the web users' password hashes (Mosquitto's PBKDF2-SHA512 format) | **yes** |
| `acl`, `acl-web`, `acl-local` | who may use which topics, per listener | no, but only the broker reads them |
| `mosquitto.conf` | the broker's configuration | no |
| `broker.toml` | what init was told: host, ports, devices, web users | no |
| `data/` | the broker's persistent state | no |
| `disks/` | the disk server's images | no |
| `systemd/` | the units below | no |

{owner}

## Install on the server

```sh
# The altair-cloud binary (the disk server unit runs {exe}):
cargo install --path cloud --root /usr/local

# Debian's own mosquitto service would hold port 1883: stop it.
systemctl disable --now mosquitto.service

cp {dir}/systemd/{broker_unit} {dir}/systemd/{vdisk_unit} /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now {broker_unit} {vdisk_unit}
journalctl -u {broker_unit} -f      # its log
```

Open ports {tls} and {ws} in the firewall; {local} stays on 127.0.0.1. The directory
must stay where it is: the configuration and the units name it by absolute path.

## Virtual disks

A device started with its drive A on the disk server (`--disk A=mqtt` in host-sim) reads
and writes `disks/<id>.dsk`: copy a CP/M image there (337,568 or 337,664 bytes), owned
by the user the disk server runs as. Every write is on disk (fdatasync) before the
device is told it is done. To make a new device's image from a template instead, add
`--template FILE` to the unit's `ExecStart`.

## Add a device

```sh
altair-cloud broker init {dir} --host {host} --device NEW_ID
systemctl restart {broker_unit}
```

Then build that device's firmware with `ALTAIR_MQTT_HOST={host}`,
`ALTAIR_MQTT_PORT={tls}`, `ALTAIR_CHANNEL=NEW_ID` and `ALTAIR_CERTS_DIR` naming a
directory laid out like this one: `ca.crt`, `devices/NEW_ID.crt`, `devices/NEW_ID.key`
(this directory itself, when building here). Copy the key only to that device's build,
over a safe channel.

A device certificate cannot be revoked yet: to shut a device out, make a new CA
(move this directory's files away and run init again) and reprovision every device.

## Web users

```sh
altair-cloud broker init {dir} --host {host} --device ID [--device ID]... \\
    --web-user NAME --web-password-file FILE
systemctl restart {broker_unit}
```

The password is read from FILE (one line; the trailing newline is dropped) and only
its hash is stored, in `passwd`. The user is granted the `--device`s of that run, in
addition to any granted before; to take a device away, edit `web_users` in
`broker.toml` and run init again.

## Let's Encrypt

Browsers do not trust this CA. Give init `--letsencrypt-dir /etc/letsencrypt/live/{host}`
and the WebSockets listener uses `fullchain.pem` and `privkey.pem` from there instead of
`server.crt`/`server.key` (devices keep using this CA). Mosquitto reads them as the user
it runs as, and certbot makes them root's, so let that user's group read them:

```sh
chgrp mosquitto /etc/letsencrypt/live /etc/letsencrypt/archive
chmod 0750 /etc/letsencrypt/live /etc/letsencrypt/archive
chgrp mosquitto /etc/letsencrypt/archive/{host}/privkey*.pem
chmod 0640 /etc/letsencrypt/archive/{host}/privkey*.pem
```

(certbot keeps the group and its read bit on renewal), and restart the broker after
each renewal, e.g. with `--deploy-hook 'systemctl restart {broker_unit}'`.
",
        tls = record.tls_port,
        ws = record.ws_port,
        local = record.local_port,
        exe = INSTALLED_BINARY,
        broker_unit = BROKER_UNIT,
        vdisk_unit = VDISK_UNIT,
    );
    match &record.letsencrypt_dir {
        Some(le) => {
            let _ = writeln!(
                r,
                "\nThis broker uses the Let's Encrypt files in `{}`.",
                le.display()
            );
        }
        None => {
            let _ = writeln!(
                r,
                "\nThis broker's WebSockets listener uses `server.crt` (no Let's Encrypt \
                 directory given): browsers must trust `ca.crt` first."
            );
        }
    }
    let _ = write!(
        r,
        "\
\n## Browser terminal

`web/` holds the browser terminal: `index.html`, `app.js`, `app.css` and `config.json`,
the login form's defaults (this broker's `wss://{host}:{ws}` and a device; nothing
secret: the page asks for the password). Put these files on any static web host, or run
`altair-cloud web serve --broker-dir {dir}` on a laptop (it serves on 127.0.0.1). Init
rewrites them on every run.

- Serve the page over HTTPS (a page loaded over https may only open `wss://`, which is
  what this listener speaks), or from localhost: the password is typed into it.
- The browser must trust the listener's certificate. With Let's Encrypt (above) it
  does. With this CA, import `ca.crt` into the browser as a certificate authority, or,
  for a test browser, start Chromium with
  `--ignore-certificate-errors-spki-list=PIN` and a `--user-data-dir`, where PIN is
  printed by `altair-cloud web serve --broker-dir {dir}`.
",
        ws = record.ws_port,
    );
    r
}
