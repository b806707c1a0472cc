// The real app window, driven through tauri-driver under Xvfb: open the form, check the
// screenshots and inventory, fill it in, submit, and assert the ticket the sandbox received.
//
// Run by tests/run-all.sh, which provides Xvfb, tauri-driver and the debug build. Environment:
//   HB_BIN          the helpdesk-button binary
//   TAURI_DRIVER    the tauri-driver binary
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { Session, KEYS } from './webdriver.mjs';
import { startSandbox, startDriver, stopAll } from './setup.mjs';

const BIN = process.env.HB_BIN;
const DRIVER = process.env.TAURI_DRIVER || 'tauri-driver';
const KEY = 'e2e-sandbox-key-0123456789';
const WD_PORT = 4444 + (process.pid % 1000);
const WD = `http://127.0.0.1:${WD_PORT}`;
const MARKER = '#00c853';
const SHOTS = new URL('../../target/e2e-screenshots/', import.meta.url).pathname; // the desktop colour behind the form, so the screenshot is checkable

let sandbox;
let sandboxUrl;
let driver;
let configDir;

function hb(...args) {
  const out = spawnSync(BIN, ['--config-dir', configDir, ...args], { encoding: 'utf8' });
  assert.equal(out.status, 0, `${args.join(' ')}: ${out.stderr}`);
  return out.stdout;
}

async function tickets() {
  const r = await fetch(`${sandboxUrl}/tickets.json`);
  return r.json();
}

function launch() {
  return Session.start(WD, BIN, ['--config-dir', configDir, 'helpdesk-button://new']);
}

before(async () => {
  assert.ok(BIN && existsSync(BIN), 'HB_BIN must point at the built helpdesk-button binary');
  assert.ok(process.env.DISPLAY, 'run under Xvfb (tests/run-all.sh does)');
  spawnSync('xsetroot', ['-solid', MARKER]);
  configDir = mkdtempSync(join(tmpdir(), 'hb-e2e-'));
  const port = 20000 + (process.pid % 20000);
  sandbox = await startSandbox(BIN, port, KEY);
  sandboxUrl = `http://127.0.0.1:${port}`;
  const endpoint = `127.0.0.1:${port}`;
  hb('settings', 'set', 'atera.endpoint', endpoint);
  hb('settings', 'set', 'branding.company_name', 'Contoso IT');
  driver = await startDriver(DRIVER, WD_PORT, { ...process.env, HELPDESK_BUTTON_ATERA_API_KEY: KEY, DBUS_SESSION_BUS_ADDRESS: 'disabled:' });
});

after(() => stopAll(driver, sandbox));

test('the form shows the screens captured before it opened, and this machine', async () => {
  const s = await launch();
  try {
    await s.waitFor("document.body.dataset.view === 'form'", 'the form');
    assert.equal(await s.text('#company-title'), 'Contoso IT support');
    const thumbs = await s.exec("return [...document.querySelectorAll('[id^=screenshot-card-] img')].map(i => i.src.slice(0, 23))");
    assert.deepEqual(thumbs, ['data:image/jpeg;base64,']);
    await s.waitFor("document.querySelector('#inventory').dataset.state === 'ready'", 'the inventory');
    const inventory = await s.exec("return document.querySelector('#inventory-body').textContent");
    assert.ok(inventory.includes(hostname()), `inventory shows the hostname: ${inventory.slice(0, 200)}`);
    // The large screenshot is the desktop behind the form, never the form itself: it is all
    // marker colour, with none of the form's blue header.
    const stats = await s.execAsync(`
      const done = arguments[arguments.length - 1];
      window.__TAURI__.core.invoke('get_screenshot', { id: 0 }).then((url) => {
        const img = new Image();
        img.onload = () => {
          const c = document.createElement('canvas');
          c.width = img.width; c.height = img.height;
          const g = c.getContext('2d');
          g.drawImage(img, 0, 0);
          const d = g.getImageData(0, 0, c.width, c.height).data;
          let marker = 0, blue = 0;
          for (let i = 0; i < d.length; i += 4) {
            const [r, gr, b] = [d[i], d[i + 1], d[i + 2]];
            if (Math.abs(r - 0x00) < 24 && Math.abs(gr - 0xc8) < 24 && Math.abs(b - 0x53) < 24) marker++;
            if (Math.abs(r - 0x25) < 24 && Math.abs(gr - 0x63) < 24 && Math.abs(b - 0xeb) < 24) blue++;
          }
          done({ w: c.width, h: c.height, marker: marker / (d.length / 4), blue });
        };
        img.src = url;
      }, (e) => done({ error: String(e) }));
    `);
    assert.equal(stats.w, 1600);
    assert.ok(stats.marker > 0.95, `the screenshot shows the desktop: ${JSON.stringify(stats)}`);
    assert.equal(stats.blue, 0, 'the form is not in its own screenshot');
    // The form window's capability grants the form's commands only: admin commands are refused
    // by Tauri before they run.
    const refused = await s.execAsync(`
      const done = arguments[arguments.length - 1];
      window.__TAURI__.core.invoke('admin_get_settings').then(() => done('allowed'), (e) => done(String(e)));
    `);
    assert.match(refused, /not allowed/i, refused);
    const refusedKey = await s.execAsync(`
      const done = arguments[arguments.length - 1];
      window.__TAURI__.core.invoke('admin_set_api_key', { key: 'stolen-0123456789' }).then(() => done('allowed'), (e) => done(String(e)));
    `);
    assert.match(refusedKey, /not allowed/i, refusedKey);
  } finally {
    await s.end();
  }
});

test('filling in the form and pressing Ctrl+Enter files the ticket in the sandbox', async () => {
  const before = (await tickets()).length;
  const s = await launch();
  try {
    await s.waitFor("document.body.dataset.view === 'form'", 'the form');
    await s.type('#name', 'Grace Hopper');
    await s.type('#email', 'Grace.Hopper@Navy.example');
    await s.type('#phone', '+1 555 0100');
    await s.type('#description', 'The <b>printer</b> on floor 3 says "paper jam" & will not print anything at all today');
    assert.equal(await s.exec("return document.querySelector('#subject').value"), 'The <b>printer</b> on floor 3 says "paper jam" &');
    await s.click('#selection-check-1');
    await s.click('#radio-0-1');
    await s.click('#priority option[value=High]');
    await s.click('#impact option[value=SiteDown]');
    await s.exec("document.querySelector('#screenshots').scrollIntoView({ block: 'center' })");
    await s.screenshot(join(SHOTS, 'form-filled.png'));
    await s.exec("document.querySelector('#description').focus()");
    await s.chord([KEYS.CONTROL, KEYS.ENTER]);
    await s.waitFor("document.body.dataset.view === 'success'", 'the success page');
    const number = await s.exec("return document.querySelector('#success-title').dataset.ticketNumber");
    await s.screenshot(join(SHOTS, 'success.png'));
    const all = await tickets();
    assert.equal(all.length, before + 1, 'exactly one ticket');
    const t = all[all.length - 1];
    assert.equal(String(t.ticket_id), number);
    const req = t.request_json;
    assert.equal(req.TicketTitle, 'The <b>printer</b> on floor 3 says "paper jam" &');
    assert.equal(req.TicketPriority, 'High');
    assert.equal(req.TicketImpact, 'SiteDown');
    assert.equal(req.TicketType, 'Incident');
    // Unknown to Atera, so the contact is created under this machine's customer (the sandbox
    // command registers this machine's agent under "Demo Customer Ltd").
    assert.equal(typeof req.EndUserID, 'number');
    assert.equal(t.end_user_email, 'Grace.Hopper@Navy.example');
    assert.ok(req.Description.includes('created under Demo Customer Ltd'));
    assert.ok(req.Description.includes('The &lt;b&gt;printer&lt;/b&gt; on floor 3 says &quot;paper jam&quot; &amp;'));
    assert.ok(req.Description.includes('This is an emergency'));
    assert.ok(req.Description.includes('How should we contact you? Call me'));
    assert.equal(req.Description.split('data:image/jpeg;base64,').length - 1, 1);
    assert.ok(req.Description.includes(hostname()));
  } finally {
    await s.end();
  }
});

test('what the user typed survives the app being killed', async () => {
  const s = await launch();
  const text = 'Half-written: the VPN drops every ten minutes';
  try {
    await s.waitFor("document.body.dataset.view === 'form'", 'the form');
    await s.type('#description', text);
    const draftFile = join(configDir, 'draft.json');
    const deadline = Date.now() + 15000;
    while (!(existsSync(draftFile) && readFileSync(draftFile, 'utf8').includes('VPN drops'))) {
      assert.ok(Date.now() < deadline, 'the draft was saved');
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    await s.end(); // kills the app, as a crash would
  }
  const again = await launch();
  try {
    await again.waitFor("document.body.dataset.view === 'form'", 'the form');
    assert.equal(await again.exec("return document.querySelector('#description').value"), text);
  } finally {
    await again.end();
  }
});

test('a bad email is refused inline and nothing is sent', async () => {
  const before = (await tickets()).length;
  const s = await launch();
  try {
    await s.waitFor("document.body.dataset.view === 'form'", 'the form');
    await s.type('#name', 'Ada');
    await s.type('#email', 'ada-at-example');
    await s.type('#description', 'Broken mouse');
    await s.click('#submit-btn');
    await s.waitFor("!document.querySelector('#email-error').hidden", 'the email error');
    assert.match(await s.text('#email-error'), /name@company\.com/);
    assert.equal(await s.exec("return document.activeElement.id"), 'email');
    assert.equal(await s.exec("return document.querySelector('#description').value"), 'Broken mouse');
    assert.equal((await tickets()).length, before);
  } finally {
    await s.end();
  }
});

test('when Atera cannot be reached the ticket is saved and the user is told so calmly', async () => {
  const unreachable = mkdtempSync(join(tmpdir(), 'hb-e2e-down-'));
  const set = spawnSync(BIN, ['--config-dir', unreachable, 'settings', 'set', 'atera.endpoint', '127.0.0.1:9'], { encoding: 'utf8' });
  assert.equal(set.status, 0, set.stderr);
  const s = await Session.start(WD, BIN, ['--config-dir', unreachable, 'helpdesk-button://new']);
  try {
    await s.waitFor("document.body.dataset.view === 'form'", 'the form');
    await s.type('#name', 'Ada Lovelace');
    await s.type('#email', 'ada@example.com');
    await s.type('#description', 'Nothing works & the network is down');
    await s.click('#submit-btn');
    await s.waitFor("document.body.dataset.view === 'success'", 'the saved page', 60000);
    assert.equal(await s.exec("return document.querySelector('#success-view').dataset.outcome"), 'queued');
    assert.match(await s.text('#success-message'), /could not be reached.*saved on this PC/s);
    await s.screenshot(join(SHOTS, 'queued.png'));
  } finally {
    await s.end();
  }
  const list = spawnSync(BIN, ['--config-dir', unreachable, 'outbox', 'list', '--json'], { encoding: 'utf8' });
  const entries = JSON.parse(list.stdout);
  assert.equal(entries.length, 1);
  assert.equal(entries[0].subject, 'Nothing works & the network is down');
  assert.notEqual(entries[0].state, 'sent');
});

test('when a ticket can be neither sent nor saved the error page says so and the form keeps everything', async () => {
  const broken = mkdtempSync(join(tmpdir(), 'hb-e2e-broken-'));
  const set = spawnSync(BIN, ['--config-dir', broken, 'settings', 'set', 'atera.endpoint', '127.0.0.1:9'], { encoding: 'utf8' });
  assert.equal(set.status, 0, set.stderr);
  mkdirSync(join(broken, 'outbox.sqlite3')); // the outbox cannot be opened: a directory is in its place
  const s = await Session.start(WD, BIN, ['--config-dir', broken, 'helpdesk-button://new']);
  try {
    await s.waitFor("document.body.dataset.view === 'form'", 'the form');
    await s.type('#name', 'Ada Lovelace');
    await s.type('#email', 'ada@example.com');
    await s.type('#description', 'Nothing works & the disk is full');
    await s.click('#submit-btn');
    await s.waitFor("document.body.dataset.view === 'error'", 'the error page', 60000);
    assert.match(await s.text('#error-message'), /could not be reached/);
    await s.click('#error-back-btn');
    await s.waitFor("document.body.dataset.view === 'form'", 'the form again');
    assert.equal(await s.exec("return document.querySelector('#description').value"), 'Nothing works & the disk is full');
    assert.equal(await s.exec("return document.querySelector('#email').value"), 'ada@example.com');
  } finally {
    await s.end();
  }
});

test('My tickets shows a technician reply and status change, and the user replies', async () => {
  const config = mkdtempSync(join(tmpdir(), 'hb-e2e-mine-'));
  const set = spawnSync(BIN, ['--config-dir', config, 'settings', 'set', 'atera.endpoint', sandboxUrl.replace('http://', '')], { encoding: 'utf8' });
  assert.equal(set.status, 0, set.stderr);
  const filed = spawnSync(BIN, ['--config-dir', config, 'submit', '--name', 'Ada Lovelace', '--email', 'ada@example.com', '--message', 'Monitor goes black', '--no-screenshots', '--json'], {
    encoding: 'utf8',
    env: { ...process.env, HELPDESK_BUTTON_ATERA_API_KEY: KEY },
  });
  assert.equal(filed.status, 0, filed.stderr);
  const ticketId = JSON.parse(filed.stdout).ticket_id;
  const s = await Session.start(WD, BIN, ['--config-dir', config, '--my-tickets']);
  try {
    await s.waitFor("document.body.dataset.view === 'list'", 'the list');
    const tech = await fetch(`${sandboxUrl}/tickets/${ticketId}/technician`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'Pending', reply: 'Please check the <b>cable</b>.', technician: 'Sam Tech' }),
    });
    assert.equal(tech.status, 204);
    await s.click('#refresh-btn');
    await s.waitFor(`(() => { const c = document.querySelector('[data-ticket-id="${ticketId}"]'); return c && c.dataset.status && c.dataset.status.toLowerCase() === 'pending' && c.dataset.unread === 'true'; })()`, 'the new status and reply', 30000);
    await s.screenshot(join(SHOTS, 'my-tickets.png'));
    await s.click(`[data-ticket-id="${ticketId}"]`);
    await s.waitFor("document.body.dataset.view === 'thread'", 'the thread');
    await s.waitFor("document.querySelector('#thread-messages').textContent.includes('Please check the <b>cable</b>.')", 'the reply as text');
    await s.type('#reply-text', 'Swapped the cable, still black.');
    await s.click('#send-reply-btn');
    await s.waitFor("document.querySelector('#thread-messages').textContent.includes('Swapped the cable')", 'my reply in the thread', 30000);
    await s.screenshot(join(SHOTS, 'my-tickets-thread.png'));
    const ticket = (await tickets()).find((t) => t.ticket_id === ticketId);
    const mine = ticket.comments.find((c) => c.text === 'Swapped the cable, still black.');
    assert.ok(mine && mine.enduser_id, `posted as the requester: ${JSON.stringify(ticket.comments)}`);
  } finally {
    await s.end();
  }
});
