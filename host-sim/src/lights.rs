//! The front panel's lights as text, for `host-sim run`'s monitor on a terminal.
//!
//! The same [`Lights`] the panel drivers send to LEDs, drawn with `●` (lit) and `○`
//! (dark), high bit on the left as on the Altair:
//!
//! ```text
//! A ○○○○○○○● ○○○○○○○○  D ○○●●●●●○
//! INTE○ PROT○ MEMR● INP○ M1● OUT○ HLTA○ STACK○ WO● WAIT●
//! ```
//!
//! Two lines so each stays under 80 columns; each ends with `\r\n` for a terminal in
//! raw mode.

use altair_firmware::panel::{Lights, status};

/// A lit LED.
const LIT: char = '●';
/// A dark LED.
const DARK: char = '○';

/// The status LEDs in the Altair's left-to-right order, each with its status-word bit
/// (INT and HLDA, always dark here, are left out; see `altair_firmware::panel`).
const STATUS_LEDS: [(&str, u8); 7] = [
    ("MEMR", status::MEMR),
    ("INP", status::INP),
    ("M1", status::M1),
    ("OUT", status::OUT),
    ("HLTA", status::HLTA),
    ("STACK", status::STACK),
    ("WO", status::WO),
];

fn led(lit: bool) -> char {
    if lit { LIT } else { DARK }
}

/// The eight bits of `byte`, most significant first.
fn leds(out: &mut String, byte: u8) {
    out.extend((0..u8::BITS).rev().map(|bit| led(byte >> bit & 1 != 0)));
}

/// Renders `lights` as two `\r\n`-terminated lines.
pub fn render(lights: &Lights) -> String {
    let [high, low] = lights.address.to_be_bytes();
    let mut out = String::from("A ");
    leds(&mut out, high);
    out.push(' ');
    leds(&mut out, low);
    out.push_str("  D ");
    leds(&mut out, lights.data);
    out.push_str("\r\n");
    let named = [("INTE", lights.inte), ("PROT", lights.prot)]
        .into_iter()
        .chain(
            STATUS_LEDS
                .iter()
                .map(|&(name, bit)| (name, lights.status & bit != 0)),
        )
        .chain([("WAIT", lights.wait)]);
    let words: Vec<String> = named
        .map(|(name, lit)| format!("{name}{}", led(lit)))
        .collect();
    out.push_str(&words.join(" "));
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_draws_address_data_and_named_status_leds() {
        let lights = Lights {
            address: 0x0100,
            data: 0x3E,
            status: status::FETCH,
            inte: false,
            prot: true,
            wait: true,
        };
        assert_eq!(
            render(&lights),
            "A ○○○○○○○● ○○○○○○○○  D ○○●●●●●○\r\n\
             INTE○ PROT● MEMR● INP○ M1● OUT○ HLTA○ STACK○ WO● WAIT●\r\n"
        );
    }

    #[test]
    fn rendered_lines_fit_80_columns() {
        let text = render(&Lights::default());
        for line in text.split("\r\n") {
            assert!(line.chars().count() < 80, "{line}");
        }
    }
}
