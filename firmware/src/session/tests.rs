//! Session tests: a real [`Altair`] running small 8080 programs, driven through the
//! session as the platform would, with the MQTT client played by a recorder.

extern crate std;

use std::boxed::Box;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use super::*;
use crate::machine::console::RX_CAPACITY;
use crate::platform::NoStorage;

type Machine = Altair<NoStorage>;

const CHANNEL: &str = "test-1";

/// At 0x0000, the echo loop: wait for a key on the 2SIO, read it, write it back.
const ECHO_LOOP: [u8; 13] = [
    0xDB, 0x10, // 0000 IN   10H     ; status
    0x0F, //       0002 RRC          ; receive ready -> carry
    0xD2, 0x00, 0x00, // 0003 JNC 0000H
    0xDB, 0x11, // 0006 IN   11H     ; the key
    0xD3, 0x11, // 0008 OUT  11H     ; echo it
    0xC3, 0x00, 0x00, // 000A JMP 0000H
];

/// Where [`print_then_echo`] keeps its text.
const TEXT_AT: u16 = 0x1000;

/// At 0x0100: print BC bytes from 0x1000 (waiting for room), then the echo loop.
fn print_routine(len: u16) -> [u8; 26] {
    let [lo, hi] = len.to_le_bytes();
    [
        0x21, 0x00, 0x10, // 0100 LXI  H,1000H
        0x01, lo, hi, //     0103 LXI  B,len
        0xDB, 0x10, //       0106 IN   10H
        0xE6, 0x02, //       0108 ANI  02H      ; transmit empty?
        0xCA, 0x06, 0x01, // 010A JZ   0106H
        0x7E, //             010D MOV  A,M
        0xD3, 0x11, //       010E OUT  11H
        0x23, //             0110 INX  H
        0x0B, //             0111 DCX  B
        0x78, //             0112 MOV  A,B
        0xB1, //             0113 ORA  C
        0xC2, 0x06, 0x01, // 0114 JNZ  0106H
        0xC3, 0x00, 0x00, // 0117 JMP  0000H   ; then echo
    ]
}

/// A machine running the echo loop.
fn echo_machine() -> Box<Machine> {
    let mut m: Box<Machine> = Box::default();
    m.load(0, &ECHO_LOOP).unwrap();
    m
}

/// A machine that prints `text` and then echoes.
fn print_then_echo(text: &[u8]) -> Box<Machine> {
    let mut m = echo_machine();
    m.load(0x0100, &print_routine(text.len() as u16)).unwrap();
    m.load(TEXT_AT, text).unwrap();
    m.cpu.pc = 0x0100;
    m
}

/// A machine that waits for a key, swallows it, prints `text` and then echoes: a
/// program that does not echo.
fn reply_to_key(text: &[u8]) -> Box<Machine> {
    let mut m = print_then_echo(text);
    m.load(
        0x0200,
        &[
            0xDB, 0x10, 0x0F, 0xD2, 0x00, 0x02, // 0200 wait for a key
            0xDB, 0x11, //                         0206 IN 11H (swallowed)
            0xC3, 0x00, 0x01, //                   0208 JMP 0100H (print, echo)
        ],
    )
    .unwrap();
    m.cpu.pc = 0x0200;
    m
}

/// Some printable text of `len` bytes, different at every position mod 95.
fn text(len: usize) -> Vec<u8> {
    (0..len).map(|i| b' ' + (i % 95) as u8).collect()
}

/// Compares long byte strings, reporting lengths and the first difference.
#[track_caller]
fn same(got: &[u8], want: &[u8]) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "got {} bytes, want {}; first difference at {at:?}",
            got.len(),
            want.len()
        );
    }
}

/// One transmitted item, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Sent {
    Subscribe(Vec<(String, QoS)>),
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
    },
}

impl Sent {
    fn of(t: Transmit<'_>) -> Self {
        match t {
            Transmit::Subscribe(subs) => {
                Sent::Subscribe(subs.iter().map(|s| (s.topic.to_string(), s.qos)).collect())
            }
            Transmit::Publish(p) => Sent::Publish {
                topic: p.topic.to_string(),
                payload: p.payload.to_vec(),
                qos: p.qos,
                retain: p.retain,
            },
        }
    }
}

/// The platform: a machine, a session, a clock and a recording MQTT client.
struct Rig {
    m: Box<Machine>,
    s: Session,
    now: u64,
    sent: Vec<Sent>,
}

impl Rig {
    /// Connected, subscribed and announced, with the record cleared.
    fn new(m: Box<Machine>, options: Options) -> Self {
        let mut rig = Rig {
            m,
            s: Session::new(CHANNEL, options).unwrap(),
            now: 1_000,
            sent: Vec::new(),
        };
        rig.s.connected();
        rig.pump();
        rig.sent.clear();
        rig
    }

    fn echo(options: Options) -> Self {
        Rig::new(echo_machine(), options)
    }

    fn send(&mut self, suffix: &str, payload: &[u8]) {
        let topic = format!("altair/{CHANNEL}/{suffix}");
        self.s.on_message(&topic, payload, &mut self.m, self.now);
    }

    /// One batch of the run loop, as the platform does it.
    fn step(&mut self) -> Option<Stop> {
        if self.s.in_monitor() {
            return None;
        }
        let stop = self.m.run(20_000);
        self.s.after_run(stop, &mut self.m, self.now);
        Some(stop)
    }

    /// Runs until the guest waits for input with nothing left to give it.
    fn run(&mut self) {
        for _ in 0..10_000 {
            match self.step() {
                None => return,
                Some(Stop::Idle)
                    if self.s.input_pending() == 0 && !self.m.devices.console.has_input() =>
                {
                    return;
                }
                Some(_) => {}
            }
        }
        panic!("the guest never went idle");
    }

    /// Hands everything due to an accepting client.
    fn pump(&mut self) -> usize {
        let sent = &mut self.sent;
        self.s
            .flush(self.now, |t| {
                sent.push(Sent::of(t));
                Ok::<(), ()>(())
            })
            .unwrap()
    }

    /// Pumps and returns the `web` payloads sent since the last call.
    fn web(&mut self) -> Vec<Vec<u8>> {
        self.pump();
        let web = format!("altair/{CHANNEL}/web");
        let mut out = Vec::new();
        for sent in self.sent.drain(..) {
            match sent {
                Sent::Publish { topic, payload, .. } if topic == web => {
                    assert!(!payload.is_empty() && payload.len() <= MAX_MESSAGE_LEN);
                    assert!(payload.iter().all(|b| b.is_ascii()), "{payload:?}");
                    out.push(payload);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        out
    }

    /// All `web` output since the last call, as text.
    fn output(&mut self) -> String {
        String::from_utf8(self.web().concat()).unwrap()
    }
}

#[test]
fn channels_follow_the_device_id_rule() {
    for good in ["1", "a", "dev-01_X", &"x".repeat(64)] {
        assert_eq!(topics::check_channel(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        &"x".repeat(65),
        "a/b",
        "+",
        "#",
        "a b",
        "é",
        "a\0",
        "dev.1",
    ] {
        assert_eq!(
            topics::check_channel(bad),
            Err(SessionError::BadChannel),
            "{bad}"
        );
        assert!(Session::new(bad, Options::default()).is_err());
    }
    let t = Topics::new("42").unwrap();
    assert_eq!(t.web(), "altair/42/web");
    assert_eq!(t.dev(), "altair/42/dev");
    assert_eq!(t.ctrl(), "altair/42/dev/ctrl");
    assert_eq!(t.paste(), "altair/42/dev/paste");
    assert_eq!(t.status(), "altair/42/status");
    let long = "x".repeat(MAX_CHANNEL_LEN);
    assert_eq!(Topics::new(&long).unwrap().paste().len(), MAX_TOPIC_LEN);
    assert!(SessionError::BadChannel.to_string().contains("1 to 64"));
}

#[test]
fn connecting_subscribes_then_announces_online() {
    let mut m = echo_machine();
    let mut s = Session::new(CHANNEL, Options::default()).unwrap();
    assert_eq!(
        s.will(),
        Publish {
            topic: "altair/test-1/status",
            payload: b"offline",
            qos: QoS::AtLeastOnce,
            retain: true
        }
    );
    // Offline: nothing to send, nothing to wait for.
    assert_eq!(s.poll_transmit(0), None);
    assert_eq!(s.next_deadline_ms(), None);
    s.on_message("altair/test-1/dev", b"a", &mut m, 0);
    s.connected();
    assert_eq!(s.next_deadline_ms(), Some(0));
    let mut sent = Vec::new();
    s.flush(0, |t| {
        sent.push(Sent::of(t));
        Ok::<(), ()>(())
    })
    .unwrap();
    let qos1 = QoS::AtLeastOnce;
    assert_eq!(
        sent,
        [
            Sent::Subscribe(std::vec![
                ("altair/test-1/dev".to_string(), qos1),
                ("altair/test-1/dev/ctrl".to_string(), qos1),
                ("altair/test-1/dev/paste".to_string(), qos1),
            ]),
            Sent::Publish {
                topic: "altair/test-1/status".to_string(),
                payload: b"online".to_vec(),
                qos: qos1,
                retain: true
            },
        ]
    );
    assert_eq!(s.next_deadline_ms(), None);
    // A reconnect asks again.
    s.disconnected();
    s.connected();
    assert!(matches!(s.poll_transmit(0), Some(Transmit::Subscribe(_))));
}

#[test]
fn typed_keys_reach_the_guest_and_the_echo_comes_back_at_idle() {
    let mut rig = Rig::echo(Options::default());
    rig.run();
    assert!(rig.web().is_empty());
    rig.send("dev", b"a");
    assert!(rig.m.devices.console.has_input());
    rig.run();
    // Idle publishes at once: no waiting for the latency limit.
    assert_eq!(rig.s.next_deadline_ms(), Some(0));
    assert_eq!(rig.web(), [b"a".to_vec()]);
    rig.send("dev", b"DIR\r");
    rig.run();
    assert_eq!(rig.web(), [b"DIR\r".to_vec()]);
    assert_eq!(rig.s.next_deadline_ms(), None);
    let stats = rig.s.stats();
    assert_eq!(stats.published, 2);
    assert_eq!(stats.published_bytes, 5);
    assert_eq!(stats.messages_in, 2);
    assert_eq!(stats.ignored, 0);
}

#[test]
fn bulk_output_goes_in_full_256_byte_messages() {
    let body = text(1000);
    let mut rig = Rig::new(print_then_echo(&body), Options::default());
    rig.run();
    let web = rig.web();
    let sizes: Vec<usize> = web.iter().map(Vec::len).collect();
    assert_eq!(sizes, [256, 256, 256, 232]);
    same(&web.concat(), &body);
    // Full messages go while the guest is still printing, without waiting for idle.
    let mut rig = Rig::new(print_then_echo(&body), Options::default());
    rig.step();
    assert_eq!(rig.s.next_deadline_ms(), Some(0));
    assert_eq!(rig.web(), [body[..256].to_vec()]);
}

#[test]
fn output_from_a_busy_guest_waits_at_most_the_latency_limit() {
    let mut m = echo_machine();
    // Print one byte, then spin without polling the console.
    m.load(0x0200, &[0x3E, b'x', 0xD3, 0x11, 0xC3, 0x04, 0x02])
        .unwrap();
    m.cpu.pc = 0x0200;
    let mut rig = Rig::new(m, Options::default());
    let start = rig.now;
    assert_eq!(rig.step(), Some(Stop::Budget));
    assert_eq!(
        rig.s.next_deadline_ms(),
        Some(start + DEFAULT_MAX_LATENCY_MS)
    );
    rig.now += DEFAULT_MAX_LATENCY_MS - 1;
    rig.step();
    assert!(rig.web().is_empty());
    rig.now += 1;
    assert_eq!(rig.web(), [b"x".to_vec()]);
    assert_eq!(rig.s.next_deadline_ms(), None);
}

#[test]
fn control_letters_send_control_keys() {
    let mut rig = Rig::echo(Options::default());
    rig.send("dev/ctrl", b"C");
    rig.send("dev/ctrl", b"z");
    rig.send("dev/ctrl", b"H");
    rig.run();
    assert_eq!(rig.web().concat(), [0x03, 0x1A, 0x08]);
    for bad in [
        &b""[..],
        b"AB",
        b"1",
        b"@",
        b"[",
        b"\xFF",
        b"\x03",
        b" ",
        b"MM",
    ] {
        rig.send("dev/ctrl", bad);
    }
    rig.run();
    assert!(rig.web().is_empty());
    assert!(!rig.s.in_monitor());
    assert_eq!(rig.s.stats().ignored, 9);
}

#[test]
fn the_monitor_stops_the_cpu_answers_on_web_and_g_leaves() {
    let mut rig = Rig::echo(Options::default());
    rig.run();
    rig.send("dev/ctrl", b"M");
    assert!(rig.s.in_monitor());
    let banner = rig.output();
    assert!(
        banner.starts_with("\r\nMONITOR: CPU stopped at PC=000"),
        "{banner:?}"
    );
    assert!(banner.ends_with(crate::monitor::PROMPT));
    // The CPU does not run in the monitor.
    let cycles = rig.m.cpu.cycles;
    assert_eq!(rig.step(), None);
    assert_eq!(rig.m.cpu.cycles, cycles);

    // Typed in pieces, echoed by the session (the terminal does not echo: Off).
    rig.send("dev", b"E 0");
    rig.send("dev", b"000\r");
    let out = rig.output();
    assert!(
        out.starts_with("E 0000\r\n0000 00000000 00000000  DB 11011011  IN"),
        "{out:?}"
    );
    assert!(out.ends_with("\r\nMONITOR> "), "{out:?}");
    // Deposit, backspace editing, CR LF.
    rig.send("dev", b"D 1000 4X\x7F1\r\n");
    assert_eq!(rig.m.devices.memory.read(0x1000), 0x41);
    let out = rig.output();
    assert!(out.starts_with("D 1000 4X\x08 \x081\r\n1000 "), "{out:?}");
    // A blank line just prompts again; an over-long line is refused whole.
    rig.send("dev", b"\r");
    assert_eq!(rig.output(), "\r\nMONITOR> ");
    let long = [b'E'; 100];
    rig.send("dev", &long);
    rig.send("dev", b"\r");
    let out = rig.output();
    assert!(out.contains("error: the line is longer than 80"), "{out:?}");
    // A bad command gets the monitor's error.
    rig.send("dev", b"FOO\r");
    assert!(rig.output().contains("error: unknown command 'FOO'"));
    // G leaves; what follows G in the same message goes to the guest.
    rig.send("dev", b"G\rhi");
    assert!(!rig.s.in_monitor());
    assert!(rig.output().starts_with("G\r\nRUN from PC="));
    rig.run();
    assert_eq!(rig.output(), "hi");

    // M toggles in and out; in between, paste feeds the monitor too and ctrl letters
    // wait for the guest.
    rig.send("dev/ctrl", b"m");
    assert!(rig.s.in_monitor());
    rig.send("dev/paste", b"SW 00FF\r");
    assert_eq!(rig.m.devices.switches, 0x00FF);
    rig.send("dev/ctrl", b"C");
    assert!(rig.m.devices.console.has_input());
    rig.output();
    rig.send("dev/ctrl", b"M");
    assert!(!rig.s.in_monitor());
    assert!(rig.output().starts_with("\r\nRUN from PC="));
    rig.run();
    assert_eq!(rig.web().concat(), [0x03]);
}

#[test]
fn the_monitor_does_not_echo_for_a_terminal_that_does() {
    let mut rig = Rig::echo(Options::original_terminal());
    rig.send("dev/ctrl", b"M");
    rig.output();
    rig.send("dev", b"E 0000\r");
    let out = rig.output();
    assert!(out.starts_with("0000 00000000"), "{out:?}");
    // The monitor's replies are never taken for echo.
    assert_eq!(rig.s.stats().echo_suppressed, 0);
}

#[test]
fn a_cpu_halted_with_interrupts_off_enters_the_monitor() {
    let mut m = echo_machine();
    m.load(0x0300, &[0xF3, 0x76]).unwrap(); // DI; HLT
    m.cpu.pc = 0x0300;
    let mut rig = Rig::new(m, Options::default());
    rig.run();
    assert!(rig.s.in_monitor());
    let out = rig.output();
    assert!(
        out.starts_with("\r\n[altair: the CPU halted at 0301H with interrupts disabled]\r\n"),
        "{out:?}"
    );
    assert!(out.contains("MONITOR: CPU stopped at PC=0302 (halted)"));
    rig.send("dev", b"G 0\r");
    assert!(!rig.s.in_monitor());
    rig.send("dev", b"ok");
    rig.run();
    assert!(rig.output().ends_with("ok"));
}

#[test]
fn pasted_chunks_arrive_complete_and_in_order() {
    let mut rig = Rig::echo(Options::default());
    let body = text(5 * 256);
    for chunk in body.chunks(256) {
        rig.send("dev/paste", chunk);
    }
    // More than the console holds: the rest waits in the session.
    assert_eq!(rig.s.input_pending(), body.len() - RX_CAPACITY);
    rig.run();
    assert_eq!(rig.s.input_pending(), 0);
    same(&rig.web().concat(), &body);
    // Typing after a paste comes after it.
    rig.send("dev/paste", &body[..300]);
    rig.send("dev", b"!");
    rig.run();
    let out = rig.web().concat();
    assert_eq!(out.len(), 301);
    assert_eq!(out.last(), Some(&b'!'));
}

#[test]
fn paste_beyond_the_buffers_is_refused_and_reported() {
    let mut rig = Rig::echo(Options::default());
    let body = text(12 * 256);
    for chunk in body.chunks(256) {
        rig.send("dev/paste", chunk);
    }
    // Console (512) + pending (2048) = 10 chunks; the last two are refused whole.
    let fits = RX_CAPACITY + PENDING_INPUT_LEN;
    assert_eq!(fits, 10 * 256);
    assert_eq!(rig.s.stats().input_refused, 512);
    rig.run();
    let out = rig.web().concat();
    let notice = b"\r\n[altair: 256 bytes of pasted text refused: the input buffer is full]\r\n";
    // The notices are published before the echo of what was accepted.
    let mut expected = [&notice[..], &notice[..]].concat();
    expected.extend_from_slice(&body[..fits]);
    same(&out, &expected);
    // A single message larger than everything is refused too, and then all works.
    rig.send("dev/paste", &text(fits + 1));
    assert_eq!(rig.s.stats().input_refused, 512 + fits as u64 + 1);
    rig.send("dev", b"ok");
    rig.run();
    assert!(rig.output().ends_with("input buffer is full]\r\nok"));
}

#[test]
fn non_ascii_input_is_dropped_and_the_rest_delivered() {
    let mut rig = Rig::echo(Options::default());
    rig.send("dev", "é!".as_bytes());
    rig.send("dev/paste", b"\xFF\xFE");
    rig.run();
    assert_eq!(rig.output(), "!");
    assert_eq!(rig.s.stats().non_ascii, 4);
}

#[test]
fn output_is_published_as_7_bit() {
    let mut rig = Rig::new(print_then_echo(&[0xC1, 0x80, 0xFF]), Options::default());
    rig.run();
    assert_eq!(rig.web().concat(), [0x41, 0x00, 0x7F]);
}

#[test]
fn echo_suppression_off_count_and_matching() {
    // Off: the guest's echo is published.
    let mut rig = Rig::echo(Options::default());
    rig.send("dev", b"abc");
    rig.run();
    assert_eq!(rig.output(), "abc");

    // Count and Matching: an echoing guest publishes nothing for typed text, but
    // pasted text and control keys are still shown.
    for echo in [EchoSuppression::Count, EchoSuppression::Matching] {
        let options = Options {
            echo,
            ..Options::default()
        };
        let mut rig = Rig::echo(options);
        rig.send("dev", b"abc");
        rig.send("dev", b"DIR\r");
        rig.run();
        assert!(rig.web().is_empty(), "{echo:?}");
        assert_eq!(rig.s.stats().echo_suppressed, 7);
        rig.send("dev/paste", b"xyz");
        rig.send("dev/ctrl", b"C");
        rig.run();
        assert_eq!(rig.web().concat(), b"xyz\x03", "{echo:?}");
    }

    // The failure mode: a program that does not echo. Count loses its first bytes of
    // real output; Matching loses nothing.
    let mut rig = Rig::new(reply_to_key(b"OK\r\n"), Options::original_terminal());
    rig.send("dev", b"x");
    rig.run();
    assert_eq!(rig.output(), "K\r\n");
    let options = Options {
        echo: EchoSuppression::Matching,
        ..Options::default()
    };
    let mut rig = Rig::new(reply_to_key(b"OK\r\n"), options);
    rig.send("dev", b"x");
    rig.run();
    assert_eq!(rig.output(), "OK\r\n");
    // After the mismatch, later echo is matched afresh.
    rig.send("dev", b"yz");
    rig.run();
    assert!(rig.web().is_empty());
}

#[test]
fn output_produced_offline_is_delivered_after_reconnecting() {
    let mut rig = Rig::echo(Options::default());
    rig.s.disconnected();
    rig.send("dev", b"hello\r");
    rig.run();
    rig.now += 10_000;
    assert!(rig.web().is_empty());
    assert_eq!(rig.s.output_pending(), 6);
    rig.s.connected();
    rig.pump();
    let web = format!("altair/{CHANNEL}/web");
    let kinds: Vec<String> = rig
        .sent
        .iter()
        .map(|s| match s {
            Sent::Subscribe(_) => "subscribe".to_string(),
            Sent::Publish { topic, payload, .. } if *topic == web => {
                String::from_utf8(payload.clone()).unwrap()
            }
            Sent::Publish { payload, .. } => String::from_utf8(payload.clone()).unwrap(),
        })
        .collect();
    assert_eq!(kinds, ["subscribe", "online", "hello\r"]);
}

#[test]
fn offline_overflow_drops_the_oldest_and_says_how_much() {
    let body = text(OUTPUT_BUFFER_LEN + 1234);
    let mut m = print_then_echo(&body);
    let mut s = Session::new(CHANNEL, Options::default()).unwrap();
    // Never connected: offline from the start. The guest runs on regardless.
    let mut rig = Rig {
        m: {
            m.cpu.pc = 0x0100;
            m
        },
        s: {
            s.disconnected();
            s
        },
        now: 0,
        sent: Vec::new(),
    };
    rig.run();
    assert_eq!(rig.s.stats().output_lost, 1234);
    assert_eq!(rig.s.output_pending(), OUTPUT_BUFFER_LEN);
    rig.s.connected();
    rig.pump();
    let web: Vec<u8> = rig
        .sent
        .iter()
        .filter_map(|s| match s {
            Sent::Publish { topic, payload, .. } if topic.ends_with("/web") => {
                Some(payload.clone())
            }
            _ => None,
        })
        .flatten()
        .collect();
    let marker = b"\r\n[altair: 1234 bytes of output lost while offline]\r\n";
    let mut expected = marker.to_vec();
    expected.extend_from_slice(&body[1234..]);
    same(&web, &expected);
}

#[test]
fn a_refused_publish_loses_nothing() {
    let body = text(1000);
    let mut rig = Rig::new(print_then_echo(&body), Options::default());
    rig.run();
    let mut got = Vec::new();
    let mut calls = 0;
    for _ in 0..100 {
        // The client refuses every other item.
        let result = rig.s.flush(rig.now, |t| {
            calls += 1;
            if calls % 2 == 0 {
                return Err("busy");
            }
            if let Transmit::Publish(p) = t {
                got.extend_from_slice(p.payload);
            }
            Ok(())
        });
        if result == Ok(0) {
            break;
        }
    }
    same(&got, &body);

    // Refused, then the link drops: the same message goes first after reconnecting.
    let mut rig = Rig::echo(Options::default());
    rig.send("dev", b"one");
    rig.run();
    assert!(
        matches!(rig.s.poll_transmit(rig.now), Some(Transmit::Publish(p)) if p.payload == b"one")
    );
    rig.s.disconnected();
    rig.send("dev", b"two");
    rig.run();
    // transmitted() without a poll after the disconnect does nothing.
    rig.s.transmitted();
    rig.s.connected();
    rig.pump();
    let outputs: Vec<Vec<u8>> = rig
        .sent
        .iter()
        .filter_map(|s| match s {
            Sent::Publish { topic, payload, .. } if topic.ends_with("/web") => {
                Some(payload.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(outputs, [b"one".to_vec(), b"two".to_vec()]);
}

#[test]
fn a_stalled_client_holds_the_guest_back_instead_of_losing_output() {
    let body = text(OUTPUT_BUFFER_LEN * 2);
    let mut rig = Rig::new(print_then_echo(&body), Options::default());
    for _ in 0..200 {
        rig.step();
    }
    // Nothing published, nothing lost: the guest waits on its transmit status.
    assert_eq!(rig.s.stats().output_lost, 0);
    assert_eq!(rig.s.output_pending(), OUTPUT_BUFFER_LEN);
    let mut got = Vec::new();
    for _ in 0..10_000 {
        got.extend(rig.web().concat());
        if got.len() == body.len() {
            break;
        }
        rig.step();
    }
    same(&got, &body);
}

/// A fixed xorshift generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn bad_payloads_on_every_topic_change_nothing() {
    let mut rig = Rig::echo(Options::default());
    let oversize = std::vec![b'A'; 64 * 1024];
    let binary: Vec<u8> = (0..=255u8).collect();
    for suffix in [
        "dev",
        "dev/ctrl",
        "dev/paste",
        "web",
        "status",
        "dev/other",
        "",
    ] {
        for payload in [&b""[..], &oversize, &binary, b"\0", b"\xFF"] {
            rig.send(suffix, payload);
        }
    }
    rig.s.on_message("ALTAIR/test-1/dev", b"x", &mut rig.m, 0);
    rig.s.on_message("", b"x", &mut rig.m, 0);
    rig.s
        .on_message("altair/test-1/dev/ctrl/", b"M", &mut rig.m, 0);
    assert!(!rig.s.in_monitor());
    rig.run();
    rig.output();
    rig.send("dev", b"still here");
    rig.run();
    assert!(rig.output().ends_with("still here"));
}

#[test]
fn ten_thousand_random_messages_never_panic_or_corrupt_state() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut rig = Rig::echo(Options::default());
    let suffixes = [
        "dev",
        "dev/ctrl",
        "dev/paste",
        "web",
        "status",
        "dev/",
        "nope",
    ];
    let specials: [&[u8]; 8] = [b"M", b"m", b"G\r", b"\r", b"C", b"E 0\r", b"S\r", b"R\r"];
    for round in 0..10_000 {
        let suffix = suffixes[rng.below(suffixes.len())];
        let payload: Vec<u8> = if rng.below(4) == 0 {
            specials[rng.below(specials.len())].to_vec()
        } else {
            let max = if rng.below(10) == 0 { 3000 } else { 40 };
            let len = rng.below(max);
            (0..len).map(|_| rng.next() as u8).collect()
        };
        rig.send(suffix, &payload);
        rig.step();
        match rng.below(50) {
            0 => rig.s.disconnected(),
            1 => rig.s.connected(),
            _ => {}
        }
        if round % 3 == 0 {
            rig.now += rng.below(30) as u64;
            let refuse = rng.below(3) == 0;
            let _ = rig.s.flush(rig.now, |t| {
                if let Transmit::Publish(p) = t {
                    assert!(!p.payload.is_empty() && p.payload.len() <= MAX_MESSAGE_LEN);
                    assert!(p.payload.iter().all(|b| b.is_ascii()));
                }
                if refuse { Err(()) } else { Ok(()) }
            });
        }
        assert!(rig.s.input_pending() <= PENDING_INPUT_LEN);
        assert!(rig.s.output_pending() <= OUTPUT_BUFFER_LEN + MAX_MESSAGE_LEN);
    }
    // The session still works end to end. The machine's memory is not the session's
    // state (random monitor commands may have changed it), so put the program back.
    rig.m.load(0, &ECHO_LOOP).unwrap();
    rig.m.cpu.pc = 0;
    rig.m.cpu.halted = false;
    rig.s.disconnected();
    rig.s.connected();
    if rig.s.in_monitor() {
        rig.send("dev/ctrl", b"M");
    }
    assert!(!rig.s.in_monitor());
    rig.m.cpu.pc = 0;
    rig.run();
    rig.sent.clear();
    rig.s.flush(rig.now + 1_000, |_| Ok::<(), ()>(())).unwrap();
    rig.send("dev", b"alive");
    rig.run();
    assert!(rig.output().ends_with("alive"));
    assert!(rig.s.stats().messages_in >= 10_000);
}

#[test]
fn the_session_fits_its_ram_budget() {
    let size = core::mem::size_of::<Session>();
    let buffers = OUTPUT_BUFFER_LEN
        + MAX_MESSAGE_LEN
        + PENDING_INPUT_LEN
        + ECHO_WINDOW
        + crate::monitor::MAX_LINE_LEN
        + 5 * MAX_TOPIC_LEN;
    assert_eq!(buffers, 7_141);
    // Bookkeeping (lengths, indices, counters, options) on top of the buffers.
    assert!(size - buffers < 512, "{size}");
    #[cfg(target_pointer_width = "64")]
    assert_eq!(size, 7_432, "update the module doc's figure");
    // Measured for thumbv7em-none-eabihf; kept here so the figure has one home.
    #[cfg(target_pointer_width = "32")]
    assert_eq!(size, 7_344, "update the module doc's figure");
}
