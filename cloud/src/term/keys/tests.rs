use super::*;

fn feed(keys: &mut Keys, input: &[u8]) -> Vec<Action> {
    let mut actions = Vec::new();
    keys.feed(input, &mut actions);
    actions
}

fn dev(text: &[u8]) -> Action {
    Action::Send(Outgoing::Dev(text.to_vec()))
}

fn ctrl(letter: u8) -> Action {
    Action::Send(Outgoing::Ctrl(letter))
}

fn show(text: &[u8]) -> Action {
    Action::Show(text.to_vec())
}

#[test]
fn character_mode_sends_text_at_once_and_batches_one_read() {
    let mut keys = Keys::new(Mode::Character, false);
    assert_eq!(feed(&mut keys, b"D"), [dev(b"D")]);
    assert_eq!(feed(&mut keys, b"IR\r"), [dev(b"IR\r")]);
}

#[test]
fn control_letters_go_on_ctrl_but_enter_tab_backspace_and_escape_stay_on_dev() {
    let mut keys = Keys::new(Mode::Character, false);
    assert_eq!(
        feed(&mut keys, b"a\x03b\x1a"),
        [dev(b"a"), ctrl(b'C'), dev(b"b"), ctrl(b'Z')]
    );
    assert_eq!(
        feed(&mut keys, b"\r\t\x08\n\x7f\x1b\x00"),
        [dev(b"\r\t\x08\n\x7f\x1b\x00")]
    );
    // Ctrl-M is Enter, never the monitor toggle.
    assert_eq!(feed(&mut keys, b"\x0d"), [dev(b"\r")]);
    assert_eq!(feed(&mut keys, b"\x01"), [ctrl(b'A')]);
}

#[test]
fn escape_key_then_a_letter_is_a_command() {
    let mut keys = Keys::new(Mode::Character, false);
    assert_eq!(
        feed(&mut keys, b"x\x1dq"),
        [dev(b"x"), Action::Run(Command::Quit)]
    );
    assert_eq!(
        feed(&mut keys, b"\x1dL"),
        [Action::Run(Command::SwitchMode)]
    );
    assert_eq!(
        feed(&mut keys, b"\x1ds"),
        [Action::Run(Command::ShowStatus)]
    );
    assert_eq!(feed(&mut keys, b"\x1d?"), [Action::Run(Command::Help)]);
    // The monitor toggle is M on dev/ctrl.
    assert_eq!(feed(&mut keys, b"\x1dm"), [ctrl(b'M')]);
    // Escape, escape sends the escape key itself.
    assert_eq!(feed(&mut keys, b"\x1d\x1d"), [dev(b"\x1d")]);
    // Split across reads.
    assert!(feed(&mut keys, b"\x1d").is_empty());
    assert_eq!(feed(&mut keys, b"q"), [Action::Run(Command::Quit)]);
}

#[test]
fn bracketed_paste_goes_on_paste_in_chunks_of_256() {
    let mut keys = Keys::new(Mode::Character, false);
    let text: Vec<u8> = (0..600).map(|i| b'a' + (i % 26) as u8).collect();
    let mut input = b"x".to_vec();
    input.extend_from_slice(PASTE_START);
    input.extend_from_slice(&text);
    input.extend_from_slice(PASTE_END);
    input.extend_from_slice(b"y");
    let actions = feed(&mut keys, &input);
    assert_eq!(
        actions,
        [
            dev(b"x"),
            Action::Send(Outgoing::Paste(text[..256].to_vec())),
            Action::Send(Outgoing::Paste(text[256..512].to_vec())),
            Action::Send(Outgoing::Paste(text[512..].to_vec())),
            dev(b"y"),
        ]
    );
}

#[test]
fn paste_markers_split_across_reads_are_recognised() {
    let mut keys = Keys::new(Mode::Character, false);
    // Control characters inside a paste are text, not commands.
    // (A read that ends just after a lone ESC sends the ESC: terminals write a marker
    // whole, and Escape must not wait for the next key.)
    let mut actions = Vec::new();
    keys.feed(b"\x1b[2", &mut actions);
    keys.feed(b"00~", &mut actions);
    let mut input = b"10 PRINT 1\r\x03\x1dq20 END\r".to_vec();
    input.extend_from_slice(PASTE_END);
    for byte in &input {
        keys.feed(std::slice::from_ref(byte), &mut actions);
    }
    assert_eq!(
        actions,
        [Action::Send(Outgoing::Paste(
            b"10 PRINT 1\r\x03\x1dq20 END\r".to_vec()
        ))]
    );
    // A lone ESC is a key and is not held back.
    assert_eq!(feed(&mut keys, b"\x1b"), [dev(b"\x1b")]);
    // The start of an arrow key's sequence that is not a paste marker goes through.
    assert_eq!(feed(&mut keys, b"\x1b[A"), [dev(b"\x1b[A")]);
}

#[test]
fn line_mode_edits_locally_and_sends_the_line_with_enter() {
    let mut keys = Keys::new(Mode::Line, false);
    assert_eq!(
        feed(&mut keys, b"DIX"),
        [show(b"D"), show(b"I"), show(b"X")]
    );
    assert_eq!(feed(&mut keys, b"\x7f"), [show(b"\x08 \x08")]);
    assert_eq!(
        feed(&mut keys, b"R\r"),
        [show(b"R"), show(b"\x08\x08\x08\x1b[K"), dev(b"DIR\r"),]
    );
    // Backspace on an empty line does nothing.
    assert!(feed(&mut keys, b"\x08").is_empty());
    // Ctrl-U wipes the line; Ctrl-C still goes at once.
    assert_eq!(
        feed(&mut keys, b"ab\x15"),
        [show(b"a"), show(b"b"), show(b"\x08\x08\x1b[K"),]
    );
    assert_eq!(feed(&mut keys, b"\x03"), [ctrl(b'C')]);
    assert_eq!(feed(&mut keys, b"\r"), [show(b"\x1b[K"), dev(b"\r")]);
}

#[test]
fn line_mode_can_keep_its_local_echo_for_devices_that_suppress_theirs() {
    let mut keys = Keys::new(Mode::Line, true);
    assert_eq!(
        feed(&mut keys, b"ok\r"),
        [show(b"o"), show(b"k"), dev(b"ok\r")]
    );
}

#[test]
fn switching_mode_or_pasting_sends_a_half_typed_line_first() {
    let mut keys = Keys::new(Mode::Line, false);
    feed(&mut keys, b"PIP ");
    let mut input = PASTE_START.to_vec();
    input.extend_from_slice(b"B:=A:*.*");
    input.extend_from_slice(PASTE_END);
    assert_eq!(
        feed(&mut keys, &input),
        [
            show(b"\x08\x08\x08\x08\x1b[K"),
            dev(b"PIP "),
            Action::Send(Outgoing::Paste(b"B:=A:*.*".to_vec())),
        ]
    );
    feed(&mut keys, b"ab");
    let mut actions = Vec::new();
    keys.switch_mode(&mut actions);
    assert_eq!(actions, [show(b"\x08\x08\x1b[K"), dev(b"ab")]);
    assert_eq!(keys.mode(), Mode::Character);
    assert_eq!(feed(&mut keys, b"c"), [dev(b"c")]);
}

#[test]
fn partial_suffix_finds_the_longest_marker_start() {
    assert_eq!(partial_suffix(b"abc\x1b[20", PASTE_END), 4);
    assert_eq!(partial_suffix(b"abc\x1b", PASTE_END), 1);
    assert_eq!(partial_suffix(b"abc", PASTE_END), 0);
    assert_eq!(partial_suffix(b"", PASTE_END), 0);
}

#[test]
fn keys_after_a_mode_switch_in_the_same_read_use_the_new_mode() {
    let mut keys = Keys::new(Mode::Character, false);
    assert_eq!(
        feed(&mut keys, b"x\x1dlab"),
        [
            dev(b"x"),
            Action::Run(Command::SwitchMode),
            show(b"a"),
            show(b"b")
        ]
    );
    assert_eq!(keys.mode(), Mode::Line);
}
