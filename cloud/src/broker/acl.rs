//! The ACL files, one per listener (`per_listener_settings true` gives each listener its
//! own `acl_file`, so rules of one listener can never apply to another's users).
//!
//! - `DIR/acl`, devices: `pattern readwrite altair/%u/#`, where `%u` is the user name,
//!   which `use_identity_as_username` makes the certificate's common name, i.e. the device
//!   id. A device can use its own topics and nothing else.
//! - `DIR/acl-web`, browsers: per web user, `topic readwrite altair/<id>/#` for each
//!   granted device, and nothing else.
//! - `DIR/acl-local`, the plain listener on 127.0.0.1: anonymous clients (the disk server)
//!   get `altair/+/vdisk/#` and nothing else: no terminal traffic.
//!
//! A pattern or topic line before any `user` line applies to every user of that listener
//! (patterns) or to anonymous clients (topics), which is why the files are separate: in a
//! shared file the device pattern would also give a web user named like a device that
//! device's topics.

use crate::broker::record::BrokerRecord;

/// The device listener's ACL: each device only `altair/<its id>/#`.
pub fn render_devices() -> String {
    "\
# Device listener (mutual TLS). Written by `altair-cloud broker init`; do not edit, re-run it.
# The user name is the device certificate's common name, i.e. the device id.
pattern readwrite altair/%u/#
"
    .to_owned()
}

/// The WebSockets listener's ACL: each web user only its granted devices' topics.
pub fn render_web(record: &BrokerRecord) -> String {
    let mut out = String::from(
        "\
# Browser listener (WebSockets). Written by `altair-cloud broker init` from broker.toml;
# do not edit: change web_users there and re-run init.
",
    );
    for user in &record.web_users {
        out.push_str(&format!("\nuser {}\n", user.name));
        if user.devices.is_empty() {
            out.push_str("# (no devices granted)\n");
        }
        for device in &user.devices {
            out.push_str(&format!("topic readwrite altair/{device}/#\n"));
        }
    }
    out
}

/// The local listener's ACL: anonymous clients only the disk topics of every device.
pub fn render_local() -> String {
    "\
# Local listener (127.0.0.1, no authentication: the disk server on this host).
# Written by `altair-cloud broker init`; do not edit, re-run it.
# Anonymous clients may use the disk topics of every device, and nothing else.
topic readwrite altair/+/vdisk/#
"
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::record::WebUser;

    #[test]
    fn web_users_get_only_their_devices() {
        let record = BrokerRecord {
            host: "h".into(),
            tls_port: 1,
            ws_port: 2,
            local_port: 3,
            devices: vec!["a".into(), "b".into()],
            web_users: vec![
                WebUser {
                    name: "ada".into(),
                    devices: vec!["a".into()],
                },
                WebUser {
                    name: "bob".into(),
                    devices: vec![],
                },
            ],
            letsencrypt_dir: None,
        };
        let acl = render_web(&record);
        assert!(
            acl.contains("user ada\ntopic readwrite altair/a/#\n"),
            "{acl}"
        );
        assert!(!acl.contains("altair/b/"), "{acl}");
        assert!(acl.contains("user bob\n# (no devices granted)\n"), "{acl}");
        // No rule before the first user line: anonymous clients get nothing.
        let first_rule = acl.lines().find(|l| !l.starts_with('#') && !l.is_empty());
        assert_eq!(first_rule, Some("user ada"));
        assert!(!acl.contains("pattern"));
    }

    #[test]
    fn device_and_local_rules() {
        assert!(render_devices().contains("\npattern readwrite altair/%u/#\n"));
        let local = render_local();
        let rules: Vec<&str> = local.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(rules, ["topic readwrite altair/+/vdisk/#"]);
    }
}
