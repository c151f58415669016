// The browser terminal: xterm.js on the page, MQTT over WebSockets to the broker's
// browser listener, the topics of reference.md section 3 for one channel.
//
// - Keys follow src/keys.js (the rules of `altair-cloud term`); the device's output on
//   `altair/<ch>/web` is written to the terminal as it comes.
// - The connection's state and the device's retained `altair/<ch>/status` are always
//   shown in the bar, and in the tab's title.
// - One MQTT 5 session per login with a short expiry: keys typed and output published
//   while the link is down are queued (by MQTT.js and by the broker) and delivered on
//   the automatic reconnect, and a closed tab leaves nothing on the broker for long.
// - The password is never stored; the broker URL, user, channel and the typing options
//   are remembered in this browser's localStorage. Defaults come from `config.json`
//   beside the page (written by `broker init` and `web serve`) and the query string.

import '@xterm/xterm/css/xterm.css';
import './style.css';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import mqtt from 'mqtt';

import { Keys } from './keys.js';

const STORE_KEY = 'altair-sphere-web';
/** Seconds the broker keeps this tab's session (and queues output for it) after a drop. */
const SESSION_EXPIRY = 300;
/** CONNACK codes that mean the login itself was refused: MQTT 3.1.1 and MQTT 5. */
const LOGIN_REFUSED = new Set([4, 5, 134, 135]);

const $ = (id) => document.getElementById(id);

const term = new Terminal({
  cursorBlink: true,
  fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace',
  fontSize: 15,
  scrollback: 5000,
});
const fit = new FitAddon();
term.loadAddon(fit);
term.open($('terminal'));

// The terminal fits its box whenever the box changes (window resize, the bar wrapping).
let fitPending = false;
new ResizeObserver(() => {
  if (!fitPending) {
    fitPending = true;
    requestAnimationFrame(() => {
      fitPending = false;
      fit.fit();
    });
  }
}).observe($('terminal'));

const saved = loadSaved();
const keys = new Keys({ mode: saved.mode, localEcho: saved.localEcho });
/** The live MQTT client, its channel's topic prefix, and whether Disconnect ended it. */
let link = null;

/** What was sent, per leaf, and the largest paste chunk: read by the browser test. */
const sent = { dev: 0, 'dev/ctrl': 0, 'dev/paste': 0, pasteLargest: 0 };

// A debug handle for tests and for a person at the console: the terminal's text.
window.altair = {
  term,
  sent,
  text() {
    const buffer = term.buffer.active;
    const lines = [];
    for (let i = 0; i < buffer.length; i += 1) {
      lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
    }
    return lines.join('\n');
  },
};

function loadSaved() {
  try {
    return JSON.parse(localStorage.getItem(STORE_KEY) || '{}') || {};
  } catch {
    return {};
  }
}

function save() {
  const { broker, user, channel } = link?.login ?? {};
  const data = { ...loadSaved(), mode: keys.mode, localEcho: keys.localEcho };
  if (broker) {
    Object.assign(data, { broker, user, channel });
  }
  localStorage.setItem(STORE_KEY, JSON.stringify(data));
}

/** Fills the form: saved values, else the query string, else config.json. */
async function fillForm() {
  let config = {};
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    if (response.ok) {
      config = await response.json();
    }
  } catch {
    // No config.json: the page is served on its own.
  }
  const query = new URLSearchParams(location.search);
  for (const field of ['broker', 'user', 'channel']) {
    const value = query.get(field) ?? saved[field] ?? config[field];
    if (value && !$(field).value) {
      $(field).value = value;
    }
  }
  if (!$('broker').value && location.hostname) {
    $('broker').value = `wss://${location.hostname}:8091`;
  }
}

function setState(id, label, state) {
  const el = $(id);
  el.dataset.state = state;
  el.textContent = `${label}: ${state}`;
  document.title = `altair ${link?.login.channel ?? ''}: broker ${$('broker-state').dataset.state}, device ${$('device-state').dataset.state}`;
}

/** A note from the page itself, dimmed, on a line of its own in the terminal. */
function note(text) {
  const newline = term.buffer.active.cursorX === 0 ? '' : '\r\n';
  term.write(`${newline}\x1b[2m[${text}]\x1b[0m\r\n`);
}

function showError(text) {
  $('error').textContent = text;
  $('error').hidden = !text;
}

function showMode() {
  $('mode').textContent = `${keys.mode} mode`;
  $('local-echo').checked = keys.localEcho;
}

/** Carries out what src/keys.js asked for. */
function perform(actions) {
  for (const action of actions) {
    if (action.show !== undefined) {
      term.write(action.show);
    } else if (link) {
      const current = link;
      // Mosquitto accepts a subscription it will never deliver to, but refuses a
      // publication with a reason code (MQTT 5): that is when a channel not granted shows.
      current.client.publish(current.prefix + action.send, action.payload, { qos: 1 }, (err) => {
        if (err && err.code >= 0x80) {
          notAllowed(current);
        }
      });
      sent[action.send] += 1;
      if (action.send === 'dev/paste') {
        sent.pasteLargest = Math.max(sent.pasteLargest, action.payload.length);
      }
    }
  }
}

function connect(login) {
  const prefix = `altair/${login.channel}/`;
  // A new session id for each login, kept across reconnects. (Not kept in the tab's
  // sessionStorage: a duplicated tab copies it, and two clients with one id would throw
  // each other off the broker for ever.)
  const random = crypto.getRandomValues(new Uint32Array(2));
  const clientId = `web-${login.channel}-${Array.from(random, (n) => n.toString(36)).join('')}`;
  const client = mqtt.connect(login.broker, {
    protocolVersion: 5,
    clientId,
    username: login.user,
    password: login.password,
    clean: false,
    properties: { sessionExpiryInterval: SESSION_EXPIRY },
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    keepalive: 30,
    // Subscribed on every connect below, so the retained status comes again each time.
    resubscribe: false,
  });
  const current = { client, prefix, login, everConnected: false, ended: false };
  link = current;
  setState('broker-state', 'broker', 'connecting');
  setState('device-state', 'device', 'unknown');

  client.on('connect', () => {
    if (!current.everConnected) {
      // The device printed its last prompt before this page listened: say how to get one.
      note(`connected to ${login.broker}, channel ${login.channel}: press Enter for a prompt`);
    }
    current.everConnected = true;
    showError('');
    setState('broker-state', 'broker', 'connected');
    client.subscribe([`${prefix}web`, `${prefix}status`], { qos: 1 }, (err, granted) => {
      const refused = err || (granted ?? []).some((g) => g.qos >= 0x80);
      if (refused) {
        notAllowed(current);
      }
    });
  });
  client.on('reconnect', () => setState('broker-state', 'broker', 'reconnecting'));
  client.on('offline', () => {
    if (!current.ended) {
      setState('broker-state', 'broker', 'reconnecting');
    }
  });
  // Before the first connection a failure is most likely the URL, the broker being
  // down or the certificate (a browser says no more than that a WebSocket failed).
  const unreachable = (detail) => {
    const https = login.broker.replace(/^ws(s?):/, 'http$1:');
    showError(`Cannot reach ${login.broker}${detail ? ` (${detail})` : ''}: check the URL and that the broker is running. If this browser does not trust the broker's certificate, open ${https} once and accept it, or see "Browser terminal" in the README. Trying again every second.`);
  };
  client.on('close', () => {
    if (current.ended) {
      return;
    }
    setState('broker-state', 'broker', 'reconnecting');
    if (!current.everConnected) {
      unreachable('');
    }
  });
  client.on('error', (err) => {
    if (LOGIN_REFUSED.has(err?.code)) {
      end(current);
      setState('broker-state', 'broker', 'refused');
      showError(`Login refused by ${login.broker}: wrong user name or password for ${login.user}.`);
      showLogin();
      return;
    }
    if (!current.everConnected) {
      unreachable(err?.message ?? '');
    }
  });
  client.on('message', (topic, payload) => {
    if (topic === `${prefix}web`) {
      term.write(payload);
    } else if (topic === `${prefix}status`) {
      const status = new TextDecoder().decode(payload).trim();
      setState('device-state', 'device', /^[a-z]{1,16}$/.test(status) ? status : 'unknown');
    }
  });
}

/** The broker refused this channel's topics to this user (a SUBACK or PUBACK code). */
function notAllowed(current) {
  if (link !== current) {
    return;
  }
  setState('device-state', 'device', 'not allowed');
  showError(`The broker does not let ${current.login.user} use channel ${current.login.channel}: is that device granted to this user (broker init --web-user)?`);
}

function end(current) {
  current.ended = true;
  current.client.end(true);
  if (link === current) {
    link = null;
  }
}

function showLogin() {
  $('login').hidden = false;
  $('session').hidden = true;
  $('password').focus();
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (link) {
    end(link);
  }
  const login = {
    broker: $('broker').value.trim(),
    user: $('user').value.trim(),
    password: $('password').value,
    channel: $('channel').value.trim(),
  };
  if (!/^wss?:\/\/[^/]+/.test(login.broker)) {
    showError('The broker URL must start with wss:// (or ws:// for a broker without TLS).');
    return;
  }
  showError('');
  $('password').value = '';
  $('login').hidden = true;
  $('session').hidden = false;
  $('where').textContent = `${login.user} @ ${login.broker} channel ${login.channel}`;
  connect(login);
  save();
  term.focus();
});

$('disconnect').addEventListener('click', () => {
  if (link) {
    end(link);
  }
  setState('broker-state', 'broker', 'off');
  setState('device-state', 'device', 'unknown');
  $('broker-state').textContent = 'broker: not connected';
  showLogin();
});

$('mode').addEventListener('click', () => {
  perform(keys.switchMode());
  showMode();
  save();
  term.focus();
});

$('local-echo').addEventListener('change', () => {
  keys.localEcho = $('local-echo').checked;
  save();
  term.focus();
});

$('monitor').addEventListener('click', () => {
  perform([{ send: 'dev/ctrl', payload: 'M' }]);
  term.focus();
});

// Ctrl-C with text selected copies it (the browser's copy, which xterm.js fills with the
// selection) instead of going to the device; without a selection it is the device's.
// Pasting is Ctrl-Shift-V or the browser's menu: Ctrl-V is the device's Ctrl-V.
term.attachCustomKeyEventHandler(
  (ev) => !(ev.type === 'keydown' && ev.ctrlKey && !ev.shiftKey && !ev.altKey && ev.key.toLowerCase() === 'c' && term.hasSelection()),
);

term.onData((data) => perform(keys.typed(data)));

// Pastes are taken before xterm.js sees them (capture phase, on an ancestor of its
// textarea), so that they go on dev/paste instead of arriving as typed keys.
$('terminal').addEventListener(
  'paste',
  (ev) => {
    ev.preventDefault();
    ev.stopPropagation();
    perform(keys.paste(ev.clipboardData?.getData('text/plain') ?? ''));
  },
  { capture: true },
);

showMode();
fillForm();
