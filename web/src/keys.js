// What the page does with what a person types, as plain functions of the input (no
// DOM, no network), so that node's test runner checks every rule (tests/keys.test.mjs).
//
// The rules are those of `altair-cloud term` (cloud/src/term/keys.rs), after
// reference.md section 3:
// - printable text, Enter, Tab, Backspace, Delete, Escape and the other non-letter
//   controls go on `dev` as they are;
// - Ctrl-A..Ctrl-Z except Backspace (H), Tab (I), Line Feed (J) and Enter (M) go on
//   `dev/ctrl` as the upper-case letter (the device turns letter L into Ctrl-L; a lone
//   `M` there toggles the monitor, which is why Enter must never go that way);
// - a paste goes on `dev/paste` in chunks of at most PASTE_CHUNK bytes, its line ends
//   as Enter;
// - line mode edits the line here (shown as typed; Backspace, Delete and Ctrl-U edit it)
//   and sends it with Enter as one `dev` message ending in `\r`. The local copy is then
//   wiped, since the device's echo prints the line again, unless localEcho is on (a
//   device that suppresses its echo, as the original firmware does).

/** The most bytes of one `dev/paste` message (the original terminal's chunk size). */
export const PASTE_CHUNK = 256;

const ENTER = '\r';
const CTRL_U = '\x15';
const ESC = '\x1b';

/** The dev/ctrl letter for a control key, or null for a key that goes on dev. */
export function ctrlLetter(ch) {
  const code = ch.charCodeAt(0);
  if (ch.length !== 1 || code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0d) {
    return null;
  }
  return code >= 0x01 && code <= 0x1a ? String.fromCharCode(0x40 + code) : null;
}

/** Keeps 7-bit ASCII only: the device drops every other byte, so they are not sent. */
function ascii(text) {
  return text.replace(/[^\x00-\x7f]/g, '');
}

/** Text that moves back over the last `n` characters shown and clears to the line end. */
function erase(n) {
  return '\b'.repeat(n) + `${ESC}[K`;
}

/**
 * The typing state: the mode, whether typed text is echoed here, and line mode's line.
 * Each method returns actions, in order: `{ send: leaf, payload }` for a message on
 * `altair/<ch>/<leaf>`, or `{ show: text }` for text to write on the local terminal.
 */
export class Keys {
  constructor({ mode = 'character', localEcho = false } = {}) {
    this.mode = mode === 'line' ? 'line' : 'character';
    this.localEcho = Boolean(localEcho);
    this.line = '';
  }

  /** One input from the terminal: a key, a key's escape sequence, or composed text. */
  typed(data) {
    const actions = [];
    // A function key's sequence (arrows, F-keys) comes whole: in character mode the
    // device gets it as it is; line mode's editor has no use for it.
    if (data.length > 1 && data.startsWith(ESC)) {
      if (this.mode === 'character') {
        actions.push({ send: 'dev', payload: data });
      }
      return actions;
    }
    let dev = '';
    const flushDev = () => {
      if (dev) {
        actions.push({ send: 'dev', payload: dev });
        dev = '';
      }
    };
    for (const ch of ascii(data)) {
      if (this.mode === 'line' && ch === CTRL_U) {
        actions.push({ show: erase(this.line.length) });
        this.line = '';
        continue;
      }
      const letter = ctrlLetter(ch);
      if (letter) {
        flushDev();
        actions.push({ send: 'dev/ctrl', payload: letter });
        continue;
      }
      if (this.mode === 'character') {
        dev += ch;
        if (this.localEcho) {
          // Exactly the bytes sent: a device that suppresses its echo skips as many
          // bytes of output (CP/M's echo of Enter is `\r`, then its own `\n`).
          actions.push({ show: ch });
        }
        continue;
      }
      this.editLine(ch, actions);
    }
    flushDev();
    return actions;
  }

  /** Line mode: one key into the line editor. */
  editLine(ch, actions) {
    if (ch === ENTER || ch === '\n') {
      // The device's echo replaces the local copy; or, with local echo, the copy stays
      // and Enter shows as the `\r` it is (the device's `\n` follows).
      actions.push({ show: this.localEcho ? ENTER : erase(this.line.length) });
      actions.push({ send: 'dev', payload: this.line + ENTER });
      this.line = '';
    } else if (ch === '\x7f' || ch === '\b') {
      if (this.line) {
        this.line = this.line.slice(0, -1);
        actions.push({ show: '\b \b' });
      }
    } else if (ch === '\t' || ch >= ' ') {
      this.line += ch;
      actions.push({ show: ch });
    }
    // Other non-letter controls (a lone Escape, Ctrl-\ ...) have no place in the line.
  }

  /** Sends a half-typed line as it is (no Enter), so nothing typed is lost. */
  flushLine(actions) {
    if (!this.line) {
      return;
    }
    if (!this.localEcho) {
      actions.push({ show: erase(this.line.length) });
    }
    actions.push({ send: 'dev', payload: this.line });
    this.line = '';
  }

  /** Pasted text: line ends become Enter, sent on dev/paste in chunks. */
  paste(text) {
    const actions = [];
    this.flushLine(actions);
    const keys = ascii(text).replace(/\r?\n/g, ENTER);
    for (let at = 0; at < keys.length; at += PASTE_CHUNK) {
      actions.push({ send: 'dev/paste', payload: keys.slice(at, at + PASTE_CHUNK) });
    }
    return actions;
  }

  /** Switches between line and character mode; a half-typed line goes first. */
  switchMode() {
    const actions = [];
    this.flushLine(actions);
    this.mode = this.mode === 'line' ? 'character' : 'line';
    return actions;
  }
}
