// The page's key rules (src/keys.js), checked with node's test runner: `npm test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Keys, PASTE_CHUNK, ctrlLetter } from '../src/keys.js';

const sends = (actions) => actions.filter((a) => a.send).map((a) => [a.send, a.payload]);
const shown = (actions) => actions.filter((a) => a.show !== undefined).map((a) => a.show).join('');

test('character mode sends keys on dev at once, the device echoes', () => {
  const keys = new Keys();
  const actions = keys.typed('DIR\r');
  assert.deepEqual(sends(actions), [['dev', 'DIR\r']]);
  assert.equal(shown(actions), '');
});

test('ctrl letters go on dev/ctrl except backspace, tab, line feed and enter', () => {
  const keys = new Keys();
  assert.deepEqual(sends(keys.typed('\x03')), [['dev/ctrl', 'C']]);
  assert.deepEqual(sends(keys.typed('\x1a')), [['dev/ctrl', 'Z']]);
  for (const key of ['\b', '\t', '\n', '\r', '\x7f', '\x1b', '\x00', '\x1c']) {
    assert.deepEqual(sends(keys.typed(key)), [['dev', key]], JSON.stringify(key));
  }
  assert.equal(ctrlLetter('\x0d'), null);
  assert.equal(ctrlLetter('\x01'), 'A');
});

test('ctrl letters keep their place among typed text', () => {
  const keys = new Keys();
  assert.deepEqual(sends(keys.typed('ab\x03c')), [
    ['dev', 'ab'],
    ['dev/ctrl', 'C'],
    ['dev', 'c'],
  ]);
});

test('function key sequences go whole in character mode and not at all in line mode', () => {
  const keys = new Keys();
  assert.deepEqual(sends(keys.typed('\x1b[A')), [['dev', '\x1b[A']]);
  keys.switchMode();
  assert.deepEqual(keys.typed('\x1b[A'), []);
});

test('line mode edits locally and sends the line with enter, wiping the local copy', () => {
  const keys = new Keys({ mode: 'line' });
  const typing = keys.typed('DIX\x7fR');
  assert.deepEqual(sends(typing), []);
  assert.equal(shown(typing), 'DIX\b \bR');
  const enter = keys.typed('\r');
  assert.deepEqual(sends(enter), [['dev', 'DIR\r']]);
  assert.equal(shown(enter), '\b\b\b\x1b[K');
});

test('line mode ctrl-u erases the line; other ctrl letters still go at once', () => {
  const keys = new Keys({ mode: 'line' });
  keys.typed('STAT');
  assert.equal(shown(keys.typed('\x15')), '\b\b\b\b\x1b[K');
  assert.deepEqual(sends(keys.typed('\x03')), [['dev/ctrl', 'C']]);
  assert.deepEqual(sends(keys.typed('\r')), [['dev', '\r']]);
});

test('local echo keeps the line in line mode and echoes keys in character mode', () => {
  const line = new Keys({ mode: 'line', localEcho: true });
  line.typed('DIR');
  const enter = line.typed('\r');
  assert.deepEqual(sends(enter), [['dev', 'DIR\r']]);
  assert.equal(shown(enter), '\r');
  const chars = new Keys({ localEcho: true });
  assert.equal(shown(chars.typed('A\r')), 'A\r');
});

test('a paste goes on dev/paste in chunks with line ends as enter', () => {
  const keys = new Keys();
  const text = 'DIR PIP.COM\n'.repeat(30);
  const actions = keys.paste(text);
  const chunks = sends(actions);
  assert.ok(chunks.every(([leaf, p]) => leaf === 'dev/paste' && p.length <= PASTE_CHUNK));
  assert.equal(chunks.length, Math.ceil(text.length / PASTE_CHUNK));
  assert.equal(chunks.map(([, p]) => p).join(''), 'DIR PIP.COM\r'.repeat(30));
  assert.deepEqual(sends(keys.paste('A\r\nB')), [['dev/paste', 'A\rB']]);
});

test('a paste or a mode switch sends the half-typed line first', () => {
  const keys = new Keys({ mode: 'line' });
  keys.typed('ST');
  assert.deepEqual(sends(keys.paste('AT\n')), [
    ['dev', 'ST'],
    ['dev/paste', 'AT\r'],
  ]);
  keys.typed('US');
  const switched = keys.switchMode();
  assert.deepEqual(sends(switched), [['dev', 'US']]);
  assert.equal(keys.mode, 'character');
});

test('text outside 7-bit ascii is not sent', () => {
  const keys = new Keys();
  assert.deepEqual(sends(keys.typed('é')), []);
  assert.deepEqual(sends(keys.paste('aé\nb')), [['dev/paste', 'a\rb']]);
});
