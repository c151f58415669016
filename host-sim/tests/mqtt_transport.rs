//! The firmware's transport (`altair_firmware::net`) against a real Mosquitto over mutual
//! TLS, from the host: the broker is provisioned by `altair-cloud broker init` from the
//! development CA the firmware is built with, and the device side is exactly the
//! firmware's code over a non-blocking `std::net::TcpStream`, driven by the firmware's
//! own `block_on`. Every wait is bounded; the tests skip (saying why) when Mosquitto is
//! not installed.

mod support;

use std::path::Path;
use std::time::Instant as StdInstant;

use altair_firmware::net::{
    Connected, Credentials, Inbound, Link, LinkBuffers, LinkConfig, LinkError, QoS, Received,
    block_on,
};
use altair_pki::{Ca, CertInfo, Validity, private_key_der};
use altair_sphere::config::{CA_CERT_DER, CHANNEL, CLIENT_CERT_DER, CLIENT_KEY_DER};
use embassy_time::Duration;
use host_sim::net_host::{Rng, Tcp};
use support::broker::{Broker, Subscriber, WAIT, dev_pki, have_mosquitto, pem_der, topic};

/// The link's timeout for one handshake or write.
const IO: Duration = Duration::from_secs(10);

/// A connection to the broker's TLS port, as the device's byte stream.
fn tcp(broker: &Broker) -> Tcp {
    Tcp::connect("127.0.0.1", broker.tls_port, WAIT).expect("connect to mosquitto")
}

// ------------------------------------------------------------------ the device

/// The baked credentials, checked to be the development PKI's (the broker's CA).
fn baked() -> Option<Credentials<'static>> {
    let ca = dev_pki().join("ca.crt");
    if !ca.is_file() || pem_der(&ca) != CA_CERT_DER {
        eprintln!(
            "SKIPPED: this build's certificates are not the development PKI in {} \
             (ALTAIR_CERTS_DIR or a configuration file points elsewhere)",
            dev_pki().display()
        );
        return None;
    }
    Some(Credentials {
        ca_cert_der: CA_CERT_DER,
        client_cert_der: CLIENT_CERT_DER,
        client_key_der: CLIENT_KEY_DER,
    })
}

fn link_config<'a>(host: &'a str, status: &'a str, credentials: Credentials<'a>) -> LinkConfig<'a> {
    LinkConfig {
        host,
        client_id: "altair-device-test",
        status_topic: status,
        keepalive_secs: 30,
        session_expiry_secs: 600,
        credentials,
    }
}

/// Polls `conn` until a message arrives (bounded).
fn receive<S: embedded_io_async::Read + embedded_io_async::Write>(
    conn: &mut Connected<'_, '_, S>,
) -> Inbound {
    let mut inbound = Inbound::new();
    let deadline = StdInstant::now() + WAIT;
    while StdInstant::now() < deadline {
        match block_on(conn.poll(&mut inbound, Duration::from_millis(200))) {
            Ok(Received::Message) => return inbound,
            Ok(Received::Idle) => {}
            other => panic!("poll: {other:?}"),
        }
    }
    panic!("no message arrived");
}

/// Polls `conn` until the broker has acknowledged `op` (bounded).
fn settle<S: embedded_io_async::Read + embedded_io_async::Write>(
    conn: &mut Connected<'_, '_, S>,
    op: &altair_firmware::net::Pending,
) {
    let deadline = StdInstant::now() + WAIT;
    let mut inbound = Inbound::<128, 512>::new();
    while !conn.is_complete(op) {
        assert!(StdInstant::now() < deadline, "no acknowledgement");
        let r = block_on(conn.poll(&mut inbound, Duration::from_millis(50)));
        assert!(matches!(r, Ok(Received::Idle)), "{r:?}");
    }
}

/// Connects a link to `broker`; returns the error if it fails.
fn try_connect(broker: &Broker, config: LinkConfig<'_>) -> Result<(), LinkError> {
    let mut buffers = Box::new(LinkBuffers::new());
    let mut link = Link::new(&mut buffers, config)?;
    let conn = block_on(link.connect(tcp(broker), &mut Rng, IO))?;
    drop(conn);
    Ok(())
}

// ------------------------------------------------------------------ the tests

#[test]
fn device_talks_mqtt_over_mutual_tls_and_leaves_a_will() {
    if !have_mosquitto("device_talks_mqtt_over_mutual_tls_and_leaves_a_will") {
        return;
    }
    let Some(credentials) = baked() else { return };
    let broker = Broker::start(true);
    let (web, dev, status) = (topic("web"), topic("dev"), topic("status"));
    let mut sub = Subscriber::start(&broker, "test-sub", &[&web, &status]);

    let mut buffers = Box::new(LinkBuffers::new());
    let mut link =
        Link::new(&mut buffers, link_config("localhost", &status, credentials)).expect("link");
    {
        let mut conn = block_on(link.connect(tcp(&broker), &mut Rng, IO))
            .unwrap_or_else(|e| panic!("connect: {e}\n{}", broker.log()));
        assert!(conn.fresh_session());

        let op = block_on(conn.subscribe(&[&dev], IO)).expect("subscribe");
        settle(&mut conn, &op);

        // Broker -> device, QoS 1.
        broker.publish(&dev, "DIR\r");
        let got = receive(&mut conn);
        assert_eq!(
            (got.topic.as_str(), &got.payload[..]),
            (dev.as_str(), &b"DIR\r"[..])
        );

        // Device -> broker, QoS 1 and QoS 0.
        let op = block_on(conn.publish(&web, b"A>", QoS::AtLeastOnce, false, IO))
            .expect("publish")
            .expect("a QoS 1 publish is tracked");
        settle(&mut conn, &op);
        sub.expect(&web, "A>");
        block_on(conn.publish(&web, b"fast", QoS::AtMostOnce, false, IO)).expect("publish");
        sub.expect(&web, "fast");

        // Dropped without DISCONNECT (the socket closes): the broker sends the will.
    }
    sub.expect(&status, "offline");

    // Typed while the device was away: kept by the persistent session and delivered
    // after the reconnect, which resumes the session (subscriptions included).
    broker.publish(&dev, "typed while offline");
    let mut conn = block_on(link.connect(tcp(&broker), &mut Rng, IO))
        .unwrap_or_else(|e| panic!("reconnect: {e}\n{}", broker.log()));
    assert!(
        !conn.fresh_session(),
        "the broker should resume the session"
    );
    let got = receive(&mut conn);
    assert_eq!(&got.payload[..], b"typed while offline");

    // A polite goodbye leaves `offline` too, without the will.
    block_on(conn.disconnect(IO)).expect("disconnect");
    sub.expect(&status, "offline");
}

#[test]
fn a_broker_certificate_from_another_ca_is_refused() {
    if !have_mosquitto("a_broker_certificate_from_another_ca_is_refused") {
        return;
    }
    let Some(credentials) = baked() else { return };
    // No copy of the dev PKI: `broker init` makes a CA of its own.
    let broker = Broker::start(false);
    let status = topic("status");
    let r = try_connect(&broker, link_config("localhost", &status, credentials));
    assert!(matches!(r, Err(LinkError::ServerCertificate)), "{r:?}");
}

#[test]
fn a_broker_under_another_name_is_refused() {
    if !have_mosquitto("a_broker_under_another_name_is_refused") {
        return;
    }
    let Some(credentials) = baked() else { return };
    let broker = Broker::start(true);
    let status = topic("status");
    // The right CA and a reachable broker, but its certificate names `localhost`.
    let r = try_connect(
        &broker,
        link_config("broker.example.com", &status, credentials),
    );
    assert!(matches!(r, Err(LinkError::ServerCertificate)), "{r:?}");
}

#[test]
fn a_client_certificate_the_broker_does_not_trust_is_reported() {
    if !have_mosquitto("a_client_certificate_the_broker_does_not_trust_is_reported") {
        return;
    }
    let Some(credentials) = baked() else { return };
    let broker = Broker::start(true);
    // A device certificate for the right channel, from a CA the broker does not know.
    let rogue = Ca::generate("rogue CA", Validity::ca_default()).expect("CA");
    let issued = rogue
        .issue_client(CHANNEL, Validity::leaf_default())
        .expect("issue");
    let cert_der = CertInfo::parse(&issued.cert_pem, Path::new("rogue.crt"))
        .expect("parse")
        .der()
        .to_vec();
    let key_der = private_key_der(&issued.key_pem, Path::new("rogue.key")).expect("key");
    let status = topic("status");
    let r = try_connect(
        &broker,
        link_config(
            "localhost",
            &status,
            Credentials {
                client_cert_der: &cert_der,
                client_key_der: &key_der,
                ..credentials
            },
        ),
    );
    assert!(
        matches!(r, Err(LinkError::ClientCertificateRejected)),
        "{r:?}"
    );
}
