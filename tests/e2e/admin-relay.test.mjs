// The admin window in relay mode, driven through tauri-driver under Xvfb against a real
// `helpdesk-relay serve` in front of the app's sandbox: the Rules section signs in with a token
// from `helpdesk-relay admin create`, tests a change on the relay, saves it there, and the relay
// answers the saved version to its admin API. The token is in no file the app wrote.
//
// Environment (set by tests/run-all.sh): HB_BIN, TAURI_DRIVER. The relay binary is built next to
// HB_BIN by `cargo build --workspace`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Session, visible } from './webdriver.mjs';
import { startSandbox, startDriver, stopAll } from './setup.mjs';

const BIN = process.env.HB_BIN;
const RELAY = BIN && join(dirname(BIN), 'helpdesk-relay');
const DRIVER = process.env.TAURI_DRIVER || 'tauri-driver';
const KEY = 'relay-e2e-sandbox-key-77';
const WD_PORT = 6544 + (process.pid % 1000);
const WD = `http://127.0.0.1:${WD_PORT}`;
const SHOTS = new URL('../../target/e2e-screenshots/', import.meta.url).pathname;
const HERE = mkdtempSync(join(tmpdir(), 'hb-e2e-relay-'));
const POLICY = join(HERE, 'policy.toml');
const PASSWORD = 'relay-admin-pass-1';

let sandbox;
let relay;
let relayUrl;
let driver;
let adminToken;

/** `helpdesk-relay serve`; resolves once it says it is listening. */
async function startRelay(config) {
  const child = spawn(RELAY, ['--config', config, 'serve'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HELPDESK_RELAY_ATERA_KEY: KEY, HELPDESK_RELAY_LOG: 'warn' },
  });
  await new Promise((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      if (seen.includes('listening')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the relay exited (${code}): ${seen}`)));
  });
  return child;
}

function relayCli(config, args) {
  const r = spawnSync(RELAY, ['--config', config, ...args], { encoding: 'utf8', env: { ...process.env, HELPDESK_RELAY_ATERA_KEY: KEY } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

before(async () => {
  assert.ok(BIN && existsSync(BIN), 'HB_BIN must point at the built helpdesk-button binary');
  assert.ok(existsSync(RELAY), `${RELAY} is missing: build with cargo build --workspace`);
  const sandboxPort = 36000 + (process.pid % 10000);
  const relayPort = sandboxPort + 1;
  sandbox = await startSandbox(BIN, sandboxPort, KEY);
  const config = join(HERE, 'relay.toml');
  writeFileSync(config, `listen = "127.0.0.1:${relayPort}"\ndata_dir = "${join(HERE, 'relay-data')}"\n[atera]\nendpoint = "127.0.0.1:${sandboxPort}"\n`);
  relay = await startRelay(config);
  relayUrl = `http://127.0.0.1:${relayPort}/`;
  adminToken = relayCli(config, ['admin', 'create', '--name', 'E2E admin']);
  const enroll = relayCli(config, ['enroll', 'create', '--customer', '101', '--customer-name', 'Demo Customer Ltd']);
  const hash = spawnSync(BIN, ['settings', 'hash-password'], { input: PASSWORD, encoding: 'utf8' }).stdout.trim();
  writeFileSync(POLICY, `admin_password_hash = "${hash}"\n[settings.relay]\nurl = "${relayUrl}"\nenrollment_token = "${enroll}"\n`);
  const env = { ...process.env, HELPDESK_BUTTON_TEST_POLICY_FILE: POLICY, DBUS_SESSION_BUS_ADDRESS: 'disabled:' };
  delete env.HELPDESK_BUTTON_ATERA_API_KEY;
  driver = await startDriver(DRIVER, WD_PORT, env);
});

after(async () => {
  relay?.kill();
  await stopAll(driver, sandbox);
});

/** Every file under `dir`, as text. */
function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push([p, readFileSync(p, 'latin1')]);
  }
  return out;
}

test('in relay mode the admin window edits, tests and saves the relay\'s rules', async () => {
  const config = mkdtempSync(join(tmpdir(), 'hb-e2e-relay-app-'));
  const s = await Session.start(WD, BIN, ['--config-dir', config, '--settings']);
  try {
    await s.waitFor(visible('#unlock-password'), 'the unlock form');
    await s.type('#unlock-password', PASSWORD);
    await s.click('#unlock-btn');
    await s.waitFor(visible('#admin-view'), 'the settings');
    await s.click('#nav-rules');
    await s.waitFor(visible('#rules-relay-signin'), 'the relay sign-in');
    assert.equal(await s.exec("return document.querySelector('#rules-relay-url').textContent"), relayUrl);
    // A device credential's shape is refused before it leaves the PC; the real token signs in.
    await s.type('#rules-relay-token', 'hbd1.0000.notanadmin');
    await s.click('#rules-relay-signin-btn');
    await s.waitFor(visible('#rules-relay-error'), 'the refusal');
    assert.match(await s.text('#rules-relay-error'), /device credential/);
    await s.type('#rules-relay-token', adminToken);
    await s.click('#rules-relay-signin-btn');
    await s.waitFor(visible('#rules-editor-card'), 'the relay\'s rules', 30000);
    assert.match(await s.text('#rules-relay-state'), /Signed in as E2E admin/);
    assert.ok(!(await s.exec('return document.documentElement.outerHTML')).includes(adminToken.split('.')[2]), 'the token is nowhere in the page');

    // Test rules runs on the relay, in the same view.
    await s.type('#rules-editor', "if 'This is an emergency' in selections: priority = 'Critical'\n");
    await s.waitFor("document.querySelector('#rules-sample').value.includes('priority')", 'the sample', 30000);
    await s.click('#rules-test-btn');
    await s.waitFor(visible('#rules-result-body'), 'the test result', 30000);
    assert.match(await s.text('#rules-var-priority'), /Critical/);
    await s.click('#rules-save-btn');
    await s.waitFor(visible('#rules-save-status'), 'the save', 30000);
    assert.match(await s.text('#rules-save-status'), /Saved on the relay as version 1/);
    await s.screenshot(join(SHOTS, 'admin-relay-rules.png'));
  } finally {
    await s.end();
  }
  // The relay has them, as version 1 by this admin.
  const doc = await (await fetch(`${relayUrl}v1/admin/rules`, { headers: { authorization: `Bearer ${adminToken}` } })).json();
  assert.equal(doc.version, 1);
  assert.match(doc.script, /priority = 'Critical'/);
  assert.match(doc.saved_by, /^E2E admin \(/);
  // The admin token is in no file the app wrote (it was held in memory only).
  const secret = adminToken.split('.')[2];
  for (const [path, body] of filesUnder(config)) assert.ok(!body.includes(secret), path);
});
