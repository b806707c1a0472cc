// The admin window, driven through tauri-driver under Xvfb: a new admin sets the app up with the
// UI alone (password, endpoint, key, Integration Test with a test ticket, branding, rules), a
// wrong password is refused, and a policy-locked field cannot be changed.
//
// Environment (set by tests/run-all.sh): HB_BIN, TAURI_DRIVER.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session, visible } from './webdriver.mjs';
import { startSandbox, startDriver, stopAll } from './setup.mjs';

const BIN = process.env.HB_BIN;
const DRIVER = process.env.TAURI_DRIVER || 'tauri-driver';
const KEY = 'admin-e2e-sandbox-key-42';
const WD_PORT = 5444 + (process.pid % 1000);
const WD = `http://127.0.0.1:${WD_PORT}`;
const SHOTS = new URL('../../target/e2e-screenshots/', import.meta.url).pathname;
const POLICY = join(mkdtempSync(join(tmpdir(), 'hb-e2e-policy-')), 'policy.toml');

let sandbox;
let sandboxPort;
let driver;

before(async () => {
  assert.ok(BIN && existsSync(BIN), 'HB_BIN must point at the built helpdesk-button binary');
  sandboxPort = 30000 + (process.pid % 20000);
  sandbox = await startSandbox(BIN, sandboxPort, KEY);
  // No key in the environment: the admin enters it in the window. The policy file path is fixed
  // for the driver's lifetime; tests write it when they need one.
  const env = { ...process.env, HELPDESK_BUTTON_TEST_POLICY_FILE: POLICY, DBUS_SESSION_BUS_ADDRESS: 'disabled:' };
  delete env.HELPDESK_BUTTON_ATERA_API_KEY;
  driver = await startDriver(DRIVER, WD_PORT, env);
});

after(() => stopAll(driver, sandbox));

async function openSettings(configDir) {
  const s = await Session.start(WD, BIN, ['--config-dir', configDir, '--settings']);
  await s.waitFor("document.querySelector('#loading-view') === null || document.querySelector('#loading-view').hidden", 'the admin window');
  return s;
}

test('a new admin sets the app up with the UI alone', async () => {
  rmSync(POLICY, { force: true });
  const config = mkdtempSync(join(tmpdir(), 'hb-e2e-admin-'));
  const s = await openSettings(config);
  try {
    await s.waitFor(visible('#setup-password'), 'the first-use password form');
    await s.screenshot(join(SHOTS, 'admin-setup.png'));
    await s.type('#setup-password', 'short');
    await s.type('#setup-confirm', 'short');
    await s.click('#setup-btn');
    await s.waitFor(visible('#setup-password-error') + " || " + visible('#setup-error'), 'a too-short refusal');
    await s.type('#setup-password', 'fleet-admin-2026');
    await s.type('#setup-confirm', 'fleet-admin-2026');
    await s.click('#setup-btn');
    await s.waitFor(visible('#admin-view'), 'the settings');
    const hash = readFileSync(join(config, 'admin-password.hash'), 'utf8');
    assert.match(hash, /^\$argon2id\$/);

    // Atera connection: a pasted URL is cleaned up, a typo is refused as you type.
    await s.type('#atera-endpoint', 'app.atera,com');
    await s.waitFor(visible('#atera-endpoint-error'), 'the endpoint error');
    assert.match(await s.text('#atera-endpoint-error'), /comma/i);
    await s.type('#atera-endpoint', `127.0.0.1:${sandboxPort}`);
    await s.waitFor("document.querySelector('#atera-endpoint-error').hidden", 'the error to clear');
    await s.type('#api-key-input', KEY);
    await s.click('#api-key-save-btn');
    await s.waitFor("document.querySelector('#api-key-masked') && document.querySelector('#api-key-masked').textContent.includes('••••')", 'the masked key');
    assert.equal(await s.exec("return document.querySelector('#api-key-input').value"), '', 'the key is not shown again');
    assert.ok(!(await s.exec('return document.documentElement.outerHTML')).includes(KEY), 'the key is nowhere in the page');
    await s.click('#save-btn');
    await s.waitFor("!document.querySelector('#save-btn') || document.querySelector('#save-btn').disabled", 'the save');
    assert.match(readFileSync(join(config, 'settings.toml'), 'utf8'), new RegExp(`endpoint = "127.0.0.1:${sandboxPort}"`));

    // The Integration Test, with a test ticket.
    await s.type('#test-email', 'new.admin@contoso.example');
    await s.click('#run-test-send-btn');
    await s.waitFor("document.querySelector('#test-steps') && document.querySelector('#test-steps').textContent.includes('test ticket #')", 'the test ticket', 60000);
    await s.screenshot(join(SHOTS, 'admin-integration-test.png'));
    const tickets = await (await fetch(`http://127.0.0.1:${sandboxPort}/tickets.json`)).json();
    assert.ok(tickets.some((t) => t.title === '[TEST] Helpdesk Button integration test'));

    // Branding, saved atomically; the next form picks it up without a restart.
    await s.click('#nav-branding');
    await s.type('#branding-company_name', 'Contoso IT');
    await s.click('#save-btn');
    await s.waitFor("document.querySelector('#save-btn').disabled", 'the save');
    assert.match(readFileSync(join(config, 'settings.toml'), 'utf8'), /company_name = "Contoso IT"/);

    // Rules: a syntax error cannot be saved; a good rule is tested and saved.
    await s.click('#nav-rules');
    await s.type('#rules-editor', "if 'x' in selections\n    priority = 'High'\n");
    await s.click('#rules-save-btn');
    await s.waitFor(visible('#rules-save-error'), 'the refusal');
    assert.ok(!existsSync(join(config, 'rules.py')), 'nothing saved');
    await s.type('#rules-editor', "if 'This is an emergency' in selections: priority = 'Critical'\n");
    await s.click('#rules-test-btn');
    await s.waitFor(visible('#rules-result-body'), 'the test result', 30000);
    await s.screenshot(join(SHOTS, 'admin-rules-test.png'));
    await s.click('#rules-save-btn');
    const deadline = Date.now() + 15000;
    while (!existsSync(join(config, 'rules.py'))) {
      assert.ok(Date.now() < deadline, 'the rules were saved');
      await new Promise((r) => setImmediate(r));
    }
    assert.match(readFileSync(join(config, 'rules.py'), 'utf8'), /priority = 'Critical'/);
  } finally {
    await s.end();
  }
  // The key is in no file the app wrote.
  for (const f of ['settings.toml', 'admin-password.hash', 'rules.py']) {
    assert.ok(!readFileSync(join(config, f), 'utf8').includes(KEY), f);
  }
});

test('a wrong password is refused and the policy locks what it sets', async () => {
  const config = mkdtempSync(join(tmpdir(), 'hb-e2e-admin2-'));
  const set = spawnSync(BIN, ['--config-dir', config, 'settings', 'set', 'branding.company_name', 'Mine'], { encoding: 'utf8' });
  assert.equal(set.status, 0, set.stderr);
  const hash = spawnSync(BIN, ['settings', 'hash-password'], { input: 'policy-password-1', encoding: 'utf8' }).stdout.trim();
  writeFileSync(POLICY, `locked = ["atera.endpoint"]\nadmin_password_hash = "${hash}"\n[settings.atera]\nendpoint = "msp.atera.example"\n`);
  const s = await openSettings(config);
  try {
    await s.waitFor(visible('#unlock-password'), 'the unlock form');
    await s.type('#unlock-password', 'not-the-password');
    await s.click('#unlock-btn');
    await s.waitFor(visible('#unlock-error'), 'the refusal');
    assert.match(await s.text('#unlock-error'), /not the admin password/i);
    await s.type('#unlock-password', 'policy-password-1');
    await s.click('#unlock-btn');
    await s.waitFor(visible('#admin-view'), 'the settings');
    assert.equal(await s.exec("return document.querySelector('#atera-endpoint').value"), 'msp.atera.example');
    assert.equal(await s.exec("return document.querySelector('#atera-endpoint').disabled || document.querySelector('#atera-endpoint').readOnly"), true);
    await s.screenshot(join(SHOTS, 'admin-locked.png'));
  } finally {
    await s.end();
    rmSync(POLICY, { force: true });
  }
});
