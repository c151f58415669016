// The browser terminal used as a person would, in Debian's Chromium driven by
// playwright-core. Run by hil-tests/tests/browser.rs, which starts the broker
// (`broker init` + Mosquitto), the device (`host-sim mqtt` with a CP/M disk) and
// `altair-cloud web serve`, and passes them here:
//
//   node tests/browser.mjs SCENARIO     (session | refusals | restart | original-echo)
//
// Environment: ALTAIR_WEB_URL (the page), ALTAIR_BROKER_URL, ALTAIR_WEB_USER,
// ALTAIR_WEB_PASSWORD, ALTAIR_CHANNEL, ALTAIR_SPKI_PIN (the broker certificate's key
// hash: Chromium accepts that one key without trusting our CA), ALTAIR_ARTIFACTS (a
// folder for screenshots), ALTAIR_CHROMIUM (default /usr/bin/chromium).
//
// Stdout, one line each: `ok STEP` after each step, `need ACTION` when the test must
// act on the rig (broker-stop, broker-start, device-stop, device-start; it answers with
// a line on stdin), and at the end `passed N` or `failed STEP: reason` (exit 1).
import { createInterface } from 'node:readline';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    throw new Error(`${name} is not set`);
  }
  return value;
};

/** How long one step may take: CP/M is quick, but the machine may be busy building. */
const STEP_TIMEOUT = 30_000;
const LISTING = 'A: MBASIC   COM : PIP      COM';

const input = createInterface({ input: process.stdin });
const answers = input[Symbol.asyncIterator]();
let passed = 0;
let current = 'start';

function ok(step) {
  passed += 1;
  current = `after "${step}"`;
  console.log(`ok ${step}`);
}

/** Asks the Rust side to do something to the rig, and waits until it is done. */
async function need(action) {
  console.log(`need ${action}`);
  const { value, done } = await answers.next();
  if (done || value.trim() !== 'done') {
    throw new Error(`the test did not do ${action}: ${value}`);
  }
}

/** The terminal's whole text (scrollback included). */
const text = (page) => page.evaluate(() => window.altair.text());

const count = (haystack, needle) => haystack.split(needle).length - 1;

/** Waits until `needle` occurs in the terminal more than `before` times. */
async function waitForText(page, needle, before = 0) {
  try {
    await page.waitForFunction(
      ([n, b]) => window.altair.text().split(n).length - 1 > b,
      [needle, before],
      { timeout: STEP_TIMEOUT, polling: 50 },
    );
  } catch {
    throw new Error(`${JSON.stringify(needle)} did not appear (${before} before); the terminal shows:\n${await text(page)}`);
  }
}

/** Waits until the element's text is `expected`. */
async function waitForState(page, selector, expected) {
  try {
    await page.waitForFunction(
      ([s, e]) => document.querySelector(s)?.textContent === e,
      [selector, expected],
      { timeout: STEP_TIMEOUT, polling: 50 },
    );
  } catch {
    const shown = await page.locator(selector).textContent();
    const error = await page.locator('#error').textContent();
    const sent = await page.evaluate(() => JSON.stringify(window.altair.sent));
    throw new Error(`${selector} shows ${JSON.stringify(shown)}, not ${JSON.stringify(expected)} (error shown: ${JSON.stringify(error)}; sent: ${sent})`);
  }
}

async function login(page, password) {
  await page.goto(env('ALTAIR_WEB_URL'));
  // config.json (from `web serve --broker-dir`) fills the form's defaults.
  await page.waitForFunction(() => document.querySelector('#broker').value !== '', null, { timeout: STEP_TIMEOUT });
  await page.fill('#broker', env('ALTAIR_BROKER_URL'));
  await page.fill('#user', env('ALTAIR_WEB_USER'));
  await page.fill('#password', password);
  await page.fill('#channel', env('ALTAIR_CHANNEL'));
  await page.click('#connect');
}

/** Logs in and waits for the broker and the device, then for a fresh CP/M prompt. */
async function loginAtPrompt(page) {
  await login(page, env('ALTAIR_WEB_PASSWORD'));
  await waitForState(page, '#broker-state', 'broker: connected');
  await waitForState(page, '#device-state', 'device: online');
  ok('login shows broker connected and device online');
  // CP/M printed its prompt before this page subscribed (the page says so): Enter asks
  // for a new one.
  await waitForText(page, 'press Enter for a prompt]');
  const prompts = count(await text(page), 'A>');
  await page.keyboard.press('Enter');
  await waitForText(page, 'A>', prompts);
  ok('Enter gives the A> prompt');
}

async function typeLine(page, line) {
  await page.keyboard.type(line, { delay: 10 });
  await page.keyboard.press('Enter');
}

async function session(page, artifacts) {
  await loginAtPrompt(page);

  // DIR: the disk's listing, and a screenshot of it.
  let before = await text(page);
  await typeLine(page, 'DIR');
  await waitForText(page, LISTING, count(before, LISTING));
  await waitForText(page, 'A>', count(before, 'A>'));
  await page.screenshot({ path: path.join(artifacts, 'browser-dir.png') });
  ok('DIR lists the disk');

  // Ctrl-C goes on dev/ctrl: CP/M warm-boots and prompts again.
  before = await text(page);
  const ctrl = await page.evaluate(() => window.altair.sent['dev/ctrl']);
  await page.keyboard.press('Control+C');
  await waitForText(page, '^C', count(before, '^C'));
  await waitForText(page, 'A>', count(before, 'A>'));
  const ctrlAfter = await page.evaluate(() => window.altair.sent['dev/ctrl']);
  if (ctrlAfter !== ctrl + 1) {
    throw new Error(`Ctrl-C sent ${ctrlAfter - ctrl} dev/ctrl messages`);
  }
  ok('Ctrl-C warm-boots CP/M');

  // With text selected, Ctrl-C copies it (the browser's copy event carries it) and
  // sends nothing.
  await page.evaluate(() => {
    document.addEventListener('copy', (ev) => {
      window.copied = ev.clipboardData.getData('text/plain');
    });
    window.altair.term.selectAll();
  });
  await page.keyboard.press('Control+C');
  const copied = await page.evaluate(() => {
    window.altair.term.clearSelection();
    return window.copied ?? '';
  });
  const ctrlCopy = await page.evaluate(() => window.altair.sent['dev/ctrl']);
  if (ctrlCopy !== ctrlAfter || !copied.includes(LISTING)) {
    throw new Error(`Ctrl-C over a selection sent ${ctrlCopy - ctrlAfter} messages and copied ${JSON.stringify(copied)}`);
  }
  ok('Ctrl-C over a selection copies instead');

  // A paste of 30 lines (270 bytes): two dev/paste chunks, every line run in order.
  const names = Array.from({ length: 30 }, (_, i) => `Q${String(i).padStart(2, '0')}PASTE`);
  before = await text(page);
  await page.evaluate((pasted) => {
    const data = new DataTransfer();
    data.setData('text/plain', pasted);
    document.querySelector('#terminal textarea').dispatchEvent(
      new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }),
    );
  }, names.map((n) => `${n}\n`).join(''));
  // CP/M answers an unknown command with its name and a question mark.
  await waitForText(page, `${names.at(-1)}?`, 0);
  const after = (await text(page)).slice(before.length - 200);
  let at = 0;
  for (const name of names) {
    const found = after.indexOf(`A>${name}\n${name}?`, at);
    if (found < 0) {
      throw new Error(`pasted line ${name} did not run in order; the terminal shows:\n${after}`);
    }
    at = found;
  }
  const sent = await page.evaluate(() => window.altair.sent);
  if (sent['dev/paste'] !== 2 || sent.pasteLargest !== 256) {
    throw new Error(`the paste went as ${sent['dev/paste']} messages, the largest ${sent.pasteLargest} bytes`);
  }
  ok('a 30-line paste arrives intact in two chunks');

  // Line mode: the line is edited here and sent whole with Enter.
  await page.click('#mode');
  await waitForState(page, '#mode', 'line mode');
  await page.click('#terminal');
  before = await text(page);
  const dev = await page.evaluate(() => window.altair.sent.dev);
  await page.keyboard.type('DIX', { delay: 10 });
  await page.keyboard.press('Backspace');
  await page.keyboard.type('R', { delay: 10 });
  const unsent = await page.evaluate(() => window.altair.sent.dev);
  if (unsent !== dev) {
    throw new Error('line mode sent keys before Enter');
  }
  await page.keyboard.press('Enter');
  await waitForText(page, LISTING, count(before, LISTING));
  const devAfter = await page.evaluate(() => window.altair.sent.dev);
  if (devAfter !== dev + 1) {
    throw new Error(`line mode sent the line as ${devAfter - dev} messages`);
  }
  if (!(await text(page)).includes('A>DIR\n')) {
    throw new Error('the device echo of the line is missing');
  }
  ok('line mode edits locally and sends the line with Enter');
  await page.click('#mode');
  await waitForState(page, '#mode', 'character mode');

  // The monitor button: the front panel's monitor (M on dev/ctrl), R, then out again.
  before = await text(page);
  await page.click('#monitor');
  await waitForText(page, 'MONITOR: CPU stopped at PC=', count(before, 'MONITOR: CPU stopped'));
  await page.click('#terminal');
  await typeLine(page, 'R');
  await waitForText(page, 'SP=', count(before, 'SP='));
  await page.click('#monitor');
  await page.click('#terminal');
  before = await text(page);
  await page.keyboard.press('Enter');
  await waitForText(page, 'A>', count(before, 'A>'));
  ok('the monitor button stops the CPU and lets it run again');

  // The mode is remembered, the password is not.
  const stored = await page.evaluate(() => localStorage.getItem('altair-sphere-web'));
  if (!stored.includes('"mode":"character"') || stored.includes(env('ALTAIR_WEB_PASSWORD'))) {
    throw new Error(`localStorage holds ${stored}`);
  }
  ok('the settings are remembered without the password');

  // The terminal fits the window.
  const wide = await page.evaluate(() => window.altair.term.cols);
  await page.setViewportSize({ width: 700, height: 500 });
  await page.waitForFunction((w) => window.altair.term.cols < w, wide, { timeout: STEP_TIMEOUT });
  const fits = await page.evaluate(() => {
    const screen = document.querySelector('.xterm-screen').getBoundingClientRect();
    return screen.right <= window.innerWidth && screen.bottom <= window.innerHeight;
  });
  if (!fits) {
    throw new Error('the terminal is larger than the window');
  }
  ok('the terminal fits the window');
}

async function refusals(page, artifacts, launch) {
  await login(page, 'not the password');
  await waitForState(page, '#broker-state', 'broker: refused');
  const error = await page.locator('#error');
  await error.waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  const message = await error.textContent();
  if (!message.includes('Login refused') || !message.includes('wrong user name or password')) {
    throw new Error(`the error says ${JSON.stringify(message)}`);
  }
  if (!(await page.locator('#login').isVisible())) {
    throw new Error('the login form is not shown again');
  }
  await page.screenshot({ path: path.join(artifacts, 'browser-wrong-password.png') });
  ok('a wrong password shows a clear error and the login form');

  // A channel this user is not granted: the broker refuses what is typed for it.
  await page.fill('#password', env('ALTAIR_WEB_PASSWORD'));
  await page.fill('#channel', 'not-granted');
  await page.click('#connect');
  await waitForState(page, '#broker-state', 'broker: connected');
  await page.keyboard.press('Enter');
  await waitForState(page, '#device-state', 'device: not allowed');
  const denied = await page.locator('#error').textContent();
  if (!denied.includes('does not let') || !denied.includes('not-granted')) {
    throw new Error(`the error says ${JSON.stringify(denied)}`);
  }
  ok('a channel not granted shows a clear error');

  // A browser that does not trust the broker's certificate: told what to check.
  const untrusting = await launch([]);
  try {
    const other = await untrusting.newPage();
    await login(other, env('ALTAIR_WEB_PASSWORD'));
    await other.locator('#error').waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
    const message = await other.locator('#error').textContent();
    if (!message.includes('Cannot reach') || !message.includes('certificate')) {
      throw new Error(`the error says ${JSON.stringify(message)}`);
    }
    await waitForState(other, '#broker-state', 'broker: reconnecting');
  } finally {
    await untrusting.close();
  }
  ok('an untrusted certificate shows what to check');
}

async function restart(page) {
  await loginAtPrompt(page);

  await need('broker-stop');
  await waitForState(page, '#broker-state', 'broker: reconnecting');
  ok('a stopped broker shows reconnecting');
  // Typed while the broker is away: held by the page, sent once it is back.
  let before = await text(page);
  await typeLine(page, 'STAT');
  await need('broker-start');
  await waitForState(page, '#broker-state', 'broker: connected');
  ok('the page reconnects by itself');
  await waitForText(page, 'A: R/W, Space:', count(before, 'A: R/W, Space:'));
  ok('keys typed during the outage arrive after it');
  before = await text(page);
  await typeLine(page, 'DIR');
  await waitForText(page, LISTING, count(before, LISTING));
  ok('typing works after the reconnect');

  await need('device-stop');
  await waitForState(page, '#device-state', 'device: offline');
  ok('a device gone shows offline');
  // The prompt of the new boot may come before the status: count from before the start.
  const prompts = count(await text(page), 'A>');
  await need('device-start');
  await waitForState(page, '#device-state', 'device: online');
  await waitForText(page, 'A>', prompts);
  ok('a device back shows online and its prompt');
}

/** Against a device that skips its echo of `dev` text (the original's rule): the page's
 * local echo must show what is typed exactly once, lines ending where CP/M's do. */
async function originalEcho(page) {
  await login(page, env('ALTAIR_WEB_PASSWORD'));
  await waitForState(page, '#device-state', 'device: online');
  await page.click('#local-echo');
  await page.click('#terminal');
  let before = await text(page);
  await page.keyboard.press('Enter');
  await waitForText(page, 'A>', count(before, 'A>'));
  before = await text(page);
  await typeLine(page, 'STAT');
  await waitForText(page, 'A>STAT\nA: R/W, Space:', count(before, 'A>STAT\nA: R/W, Space:'));
  if ((await text(page)).includes('STATSTAT')) {
    throw new Error(`the keys show twice:\n${await text(page)}`);
  }
  ok('character mode with local echo shows each key once');

  await page.click('#mode');
  await waitForState(page, '#mode', 'line mode');
  await page.click('#terminal');
  before = await text(page);
  await typeLine(page, 'DIR *.BAS');
  const listed = 'A>DIR *.BAS\nA: LUNAR    BAS';
  await waitForText(page, listed, count(before, listed));
  ok('line mode with local echo shows the line once');
}

const scenarios = { session, refusals, restart, 'original-echo': originalEcho };

async function main() {
  const scenario = scenarios[process.argv[2]];
  if (!scenario) {
    throw new Error(`give a scenario: ${Object.keys(scenarios).join(', ')}`);
  }
  const artifacts = env('ALTAIR_ARTIFACTS');
  await mkdir(artifacts, { recursive: true });
  const launch = (extra) =>
    chromium.launch({
      executablePath: env('ALTAIR_CHROMIUM', '/usr/bin/chromium'),
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
        ...extra,
      ],
    });
  // Accept the broker's certificate by its key alone; playwright gives the browser its
  // own --user-data-dir, without which Chromium ignores this flag.
  const browser = await launch([`--ignore-certificate-errors-spki-list=${env('ALTAIR_SPKI_PIN')}`]);
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    // The page must work within the Content-Security-Policy that `web serve` sends.
    page.on('console', (m) => {
      if (m.text().includes('Content Security Policy')) {
        problems.push(m.text());
      }
    });
    await scenario(page, artifacts, launch);
    if (problems.length) {
      current = 'page errors';
      throw new Error(problems.join('\n'));
    }
  } finally {
    await browser.close();
  }
}

main().then(
  () => {
    console.log(`passed ${passed}`);
    process.exit(0);
  },
  (e) => {
    console.log(`failed ${current}: ${e.message.replaceAll('\n', '\n  ')}`);
    process.exit(1);
  },
);
