//! Checks 6-8: talking to the running broker on its three listeners; [`super::explain`]
//! names the fault and its fix when that fails.

use std::net::TcpStream;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::explain::{Endpoint, Target};
use super::{Check, Ctx};
use crate::mqtt::{self, Connect, Fault, QoS, Session, StreamTransport, Transport};

/// A client identifier unlikely to clash with a real device's session.
fn client_id(role: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("altair-doctor-{role}-{}-{nanos:x}", std::process::id())
}

/// A failed line from a fault.
fn failed(name: String, endpoint: &Endpoint<'_, '_>, fault: &Fault) -> Check {
    let (detail, fix) = endpoint.explain(fault);
    Check::fail(name, detail, fix)
}

/// Device check, step by step: TLS with the device certificate, CONNECT, round trip.
fn device_session(endpoint: &Endpoint<'_, '_>, id: &str, tcp: TcpStream) -> Result<(), Fault> {
    let ctx = endpoint.ctx;
    let timeout = ctx.options.timeout;
    let certs = mqtt::load_certs(&ctx.path(&format!("devices/{id}.crt")))?;
    let key = mqtt::load_key(&ctx.path(&format!("devices/{id}.key")))?;
    let roots = mqtt::roots_from(&ctx.path("ca.crt"))?;
    let config = mqtt::client_config(roots, Some((certs, key)))?;
    let tls = mqtt::tls_handshake(config, endpoint.host, tcp, Instant::now() + timeout)?;
    let mut session = Session::new(StreamTransport(tls));
    session.connect(&Connect::new(&client_id(id)), Instant::now() + timeout)?;
    let topic = format!("altair/{id}/doctor");
    let payload = format!("doctor check {}", client_id(id));
    round_trip(
        &mut session,
        &topic,
        payload.as_bytes(),
        Instant::now() + timeout,
    )?;
    let _ = session.disconnect(); // The checks are already decided.
    Ok(())
}

/// Subscribes to `topic` at QoS 1, then publishes `payload` to it at QoS 1 and waits for
/// both the PUBACK and the message to come back.
fn round_trip<T: Transport>(
    session: &mut Session<T>,
    topic: &str,
    payload: &[u8],
    deadline: Instant,
) -> Result<(), Fault> {
    session.subscribe(topic, QoS::AtLeastOnce, deadline)?;
    session.publish(topic, payload, QoS::AtLeastOnce, false, deadline)?;
    loop {
        match session.receive(deadline)? {
            Some(message) if message.topic == topic && message.payload == payload => {
                return Ok(());
            }
            Some(_) => {}
            None => return Err(Fault::NotDelivered),
        }
    }
}

/// Check 6: the device listener answers, and each device gets a message through.
fn device_checks(ctx: &Ctx<'_>, out: &mut Vec<Check>) {
    let setup = ctx.setup;
    for id in &setup.devices {
        let endpoint = Endpoint {
            ctx,
            target: Target::Device(id),
            host: &setup.host,
            port: setup.tls_port,
        };
        let name = format!("device \"{id}\" MQTT over TLS");
        let tcp = match mqtt::connect_tcp(&setup.host, setup.tls_port, ctx.options.timeout) {
            Ok(tcp) => tcp,
            Err(fault) => {
                // The same for every device: say it once.
                out.push(failed("device listener".into(), &endpoint, &fault));
                return;
            }
        };
        match device_session(&endpoint, id, tcp) {
            Ok(()) => out.push(Check::pass(
                name,
                format!(
                    "{} accepted the certificate over TLS 1.3, and a QoS 1 message on \
                     altair/{id}/doctor came back",
                    endpoint.addr()
                ),
            )),
            Err(fault) if about_listener(&fault) => {
                out.push(failed(name, &endpoint, &fault));
                // Every other device would meet the same listener: do not wait on each.
                if setup.devices.len() > 1 {
                    out.push(Check::skip(
                        "other devices over TLS",
                        "not tried: the fault above is the listener's, not the device's",
                        "fix it first",
                    ));
                }
                return;
            }
            Err(fault) => out.push(failed(name, &endpoint, &fault)),
        }
    }
}

/// Whether a fault lies with the listener (its certificate, its protocol, its silence),
/// so that every device would meet it.
fn about_listener(fault: &Fault) -> bool {
    matches!(
        fault,
        Fault::HandshakeTimeout
            | Fault::ClosedInHandshake
            | Fault::Tls(
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::InvalidMessage(_)
                    | rustls::Error::PeerMisbehaved(_)
                    | rustls::Error::InappropriateMessage { .. }
                    | rustls::Error::InappropriateHandshakeMessage { .. }
                    | rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
            )
    )
}

/// Reads a password file the way `broker init` does (less one trailing line break).
fn read_password(path: &Path) -> Result<Vec<u8>, Fault> {
    crate::broker::passwd::read_password_file(path).map_err(|e| Fault::Setup(e.to_string()))
}

/// Web check, step by step: TLS, WebSocket upgrade, CONNECT with user name and password.
fn web_session(endpoint: &Endpoint<'_, '_>, user: &str, file: &Path) -> Result<(), Fault> {
    let ctx = endpoint.ctx;
    let timeout = ctx.options.timeout;
    let password = read_password(file)?;
    let roots = match endpoint.letsencrypt() {
        Some(_) => mqtt::system_roots()?,
        None => mqtt::roots_from(&ctx.path("ca.crt"))?,
    };
    let config = mqtt::client_config(roots, None)?;
    let ws = mqtt::open_wss(endpoint.host, endpoint.port, config, timeout)?;
    let mut session = Session::new(ws);
    let id = client_id("web");
    let login = Connect {
        credentials: Some((user, &password)),
        ..Connect::new(&id)
    };
    session.connect(&login, Instant::now() + timeout)?;
    let _ = session.disconnect();
    Ok(())
}

/// Check 7: the first web user logs in over WebSockets (needs the password file).
fn web_check(ctx: &Ctx<'_>) -> Check {
    let setup = ctx.setup;
    let name = "web login";
    let Some(user) = setup.web_users.first() else {
        return Check::skip(
            name,
            "broker.toml has no web user",
            format!(
                "add one: {} --web-user NAME --web-password-file FILE",
                ctx.init_command()
            ),
        );
    };
    let Some(file) = ctx.options.web_password_file.as_deref() else {
        return Check::skip(
            name,
            format!("no password given for web user {user}"),
            format!(
                "to test the WebSockets login: altair-cloud doctor {} --web-password-file FILE",
                ctx.dir.display()
            ),
        );
    };
    let endpoint = Endpoint {
        ctx,
        target: Target::Web(user, file),
        host: &setup.host,
        port: setup.ws_port,
    };
    match web_session(&endpoint, user, file) {
        Ok(()) => Check::pass(
            name,
            format!(
                "web user {user} logged in over MQTT over WebSockets and TLS on {}",
                endpoint.addr()
            ),
        ),
        Err(fault) => failed(name.into(), &endpoint, &fault),
    }
}

/// Check 8: the plain listener on 127.0.0.1 takes an MQTT connection.
fn local_check(ctx: &Ctx<'_>) -> Check {
    let port = ctx.setup.local_port;
    let endpoint = Endpoint {
        ctx,
        target: Target::Local,
        host: "127.0.0.1",
        port,
    };
    let timeout = ctx.options.timeout;
    let result = mqtt::connect_tcp("127.0.0.1", port, timeout).and_then(|tcp| {
        let mut session = Session::new(StreamTransport(tcp));
        session.connect(&Connect::new(&client_id("local")), Instant::now() + timeout)?;
        let _ = session.disconnect();
        Ok(())
    });
    match result {
        Ok(()) => Check::pass(
            "local listener",
            format!("127.0.0.1:{port} accepted a plain MQTT connection"),
        ),
        Err(fault) => failed("local listener".into(), &endpoint, &fault),
    }
}

/// Checks 6-8.
pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    device_checks(ctx, &mut out);
    out.push(web_check(ctx));
    out.push(local_check(ctx));
    out
}
