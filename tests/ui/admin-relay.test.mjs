// Page tests for the Rules section in relay mode (ui/admin.html with ui/admin-relay.js): with a
// relay in the machine policy, the section signs in to the relay with an admin token and reads,
// checks, tests and saves the relay's rules (admin_relay_* in tests/ui/mock-admin.js), in the
// same editor and Test Rules view.
//
//   cd /work/main && PLAYWRIGHT_CORE_DIR=$PWD/tests/e2e node --test tests/ui/admin-relay.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { HERE, startHarness, openPage, mockScript, value, text } from './harness.mjs';

const SHOTS = process.env.ADMIN_SCREENSHOTS || path.resolve(HERE, '..', '..', 'target', 'ui-screenshots');
const harness = startHarness({ chromiumArgs: ['--font-render-hinting=none'] });

const RELAY = { url: 'https://relay.northwind-it.example/' };
const TOKEN = 'hba1.0123456789abcdef.secret';
const RELAY_SCRIPT = "if 'jams' in msg:\n    priority = 'High'\n";

async function openAdmin(cfg = {}) {
  const page = await openPage(harness, {
    url: 'admin.html',
    width: 980,
    height: 720,
    waitFor: 'admin',
    mock: '__MOCK_ADMIN__',
    prepare: async (p) => {
      await p.addInitScript((c) => { window.__MOCK_ADMIN_CONFIG__ = c; }, { unlocked: true, locked: [], relay: RELAY, ...cfg });
      await p.addInitScript({ path: mockScript('mock-admin.js') });
    },
  });
  page.db = () => page.evaluate(() => JSON.parse(JSON.stringify(window.__MOCK_ADMIN__.db)));
  return page;
}

const shot = async (page, name) => {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(SHOTS, name) });
};

async function signIn(page, token = TOKEN) {
  await page.fill('#rules-relay-token', token);
  await page.click('#rules-relay-signin-btn');
}

/** The session times out: the next click finds it locked; unlock again and reopen Rules. */
async function timeOutAndUnlock(page, clickSelector = '#rules-test-btn') {
  await page.evaluate(() => window.__MOCK_ADMIN__.lockNow());
  await page.click(clickSelector).catch(() => {});
  await page.waitForSelector('#unlock-form:not([hidden])');
  await page.fill('#unlock-password', 'correct horse');
  await page.press('#unlock-password', 'Enter');
  await page.waitForFunction(() => document.body.dataset.view === 'admin');
  await page.click('#nav-rules');
}

/** Opens Rules and signs in; resolves once the relay's rules are in the editor. */
async function signedIn(page) {
  await page.click('#nav-rules');
  await signIn(page);
  await page.waitForSelector('#rules-editor-card:not([hidden])');
}

test('pure helpers: the relay card says where the rules run and who saved them', async () => {
  const page = await openAdmin();
  const r = await page.evaluate(async () => {
    const m = await import('./admin.js');
    return {
      local: m.rulesCommands(false),
      relay: m.rulesCommands(true),
      none: m.relayView(null, null),
      out: m.relayView({ url: 'https://r/' }, null),
      editable: m.relayView({ url: 'https://r/' }, { version: 3, editable: true, saved_by: 'Sam (5e)', saved_at: '2026-12-06T20:10:00Z', admin: 'Dana' }),
      first: m.relayView({ url: 'https://r/' }, { version: 0, editable: true, admin: 'Dana' }),
      file: m.relayView({ url: 'https://r/' }, { version: 0, editable: false, source: 'the file /etc/helpdesk-relay/rules.py on the relay', admin: 'Dana' }),
      saved: m.savedMessage({ version: 4 }),
    };
  });
  assert.deepEqual(r.local, { check: 'admin_check_rules', test: 'admin_test_rules', save: 'admin_save_rules' });
  assert.deepEqual(r.relay, { check: 'admin_relay_check_rules', test: 'admin_relay_test_rules', save: 'admin_relay_save_rules' });
  assert.equal(r.none, null);
  assert.equal(r.out.mode, 'signed-out');
  assert.equal(r.editable.mode, 'editable');
  assert.equal(r.editable.title, 'Signed in as Dana to the relay');
  assert.match(r.editable.detail, /^Version 3, saved by Sam \(5e\) at 2026-12-06 20:10 UTC\. Saving here changes the rules for every PC/);
  assert.match(r.first.detail, /^No rules saved on the relay yet/);
  assert.equal(r.file.mode, 'read-only');
  assert.match(r.file.detail, /\/etc\/helpdesk-relay\/rules\.py/);
  assert.equal(r.saved, 'Saved on the relay as version 4. The next ticket from any PC runs them.');
  await page.done();
});

test('relay mode: sign in with an admin token; a wrong token is refused with what to do', async () => {
  const page = await openAdmin();
  await page.click('#nav-rules');
  // Signed out: no editor, no local rules, only the sign-in.
  assert.equal(await page.isVisible('#rules-relay'), true);
  assert.equal(await page.isVisible('#rules-editor-card'), false);
  assert.equal(await page.isVisible('#rules-try'), false);
  assert.equal(await text(page, '#rules-relay-url'), RELAY.url);
  assert.equal(await page.isDisabled('#rules-relay-signin-btn'), true);
  assert.equal((await page.calls('admin_check_rules')).length, 0, 'the local rules are not checked in relay mode');
  await shot(page, 'admin-relay-signin.png');
  await signIn(page, 'hbd1.abc.def');
  await page.waitForSelector('#rules-relay-error:not([hidden])');
  assert.match(await text(page, '#rules-relay-error'), /device credential; an admin token starts with hba1\./);
  assert.equal(await page.getAttribute('#rules-relay-token', 'aria-invalid'), 'true');
  await signIn(page, 'hba1.0000.wrong');
  await page.waitForFunction(() => /does not know this admin token/.test(document.getElementById('rules-relay-error').textContent));
  assert.match(await text(page, '#rules-relay-error'), /helpdesk-relay admin create --name YOUR-NAME/);
  // The right token: the relay's rules in the editor, checked by the relay.
  await signIn(page);
  await page.waitForSelector('#rules-editor-card:not([hidden])');
  assert.equal(await value(page, '#rules-editor'), RELAY_SCRIPT);
  assert.equal(await value(page, '#rules-relay-token'), '', 'the token is not left in the field');
  assert.equal(await page.isVisible('#rules-relay-signin'), false);
  assert.equal(await text(page, '#rules-relay-state'), 'Signed in as Dana to the relay');
  assert.match(await text(page, '#rules-relay-detail'), /Version 3, saved by Sam \(5e1f00aa00000000\) at 2026-12-06 20:10 UTC/);
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_relay_check_rules').length === 1);
  assert.equal((await page.calls('admin_check_rules')).length, 0);
  assert.equal(await page.isDisabled('#rules-save-btn'), true, 'nothing changed yet');
  await shot(page, 'admin-relay-rules.png');
  await page.done();
});

test('relay mode: Test rules runs on the relay in the same view; Save saves there with the version read', async () => {
  const page = await openAdmin();
  await signedIn(page);
  await page.fill('#rules-editor', "priority = 'Critical'\n");
  await page.waitForFunction(() => document.getElementById('rules-sample').value.includes('PC-042'));
  await page.click('#rules-test-btn');
  await page.waitForSelector('#rules-result-body:not([hidden])');
  const run = (await page.calls('admin_relay_test_rules'))[0].args;
  assert.equal(run.script, "priority = 'Critical'\n");
  assert.equal(run.input.hostname, 'PC-042');
  assert.equal((await page.calls('admin_test_rules')).length, 0);
  assert.equal(await text(page, '#rules-var-priority td'), 'Criticalwas: Medium');
  await page.click('#rules-save-btn');
  await page.waitForSelector('#rules-save-status:not([hidden])');
  const save = (await page.calls('admin_relay_save_rules'))[0].args;
  assert.deepEqual(save, { script: "priority = 'Critical'\n", version: 3 });
  assert.equal(await text(page, '#rules-save-status'), 'Saved on the relay as version 4. The next ticket from any PC runs them.');
  assert.match(await text(page, '#rules-relay-detail'), /^Version 4, saved by Dana/);
  assert.equal((await page.db()).relayRules.script, "priority = 'Critical'\n");
  assert.equal((await page.calls('admin_save_rules')).length, 0, 'the local rules are untouched');
  // The footer Save saves changed rules on the relay too, on top of the new version.
  await page.fill('#rules-editor', "priority = 'Low'\n");
  await page.click('#save-btn');
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_relay_save_rules').length === 2);
  await page.waitForFunction(() => document.getElementById('save-status').dataset.tone === 'ok');
  assert.equal((await page.calls('admin_relay_save_rules'))[1].args.version, 4);
  assert.equal((await page.db()).relayRules.version, 5);
  await page.done();
});

test('relay mode: another admin saved meanwhile: not saved, says who; Reload brings their version', async () => {
  const page = await openAdmin();
  await signedIn(page);
  // Sam saves version 4 on the relay while Dana edits version 3.
  await page.evaluate(() => { const d = window.__MOCK_ADMIN__.db; d.relayRules = { ...d.relayRules, script: "impact = 'Major'\n", version: 4 }; });
  await page.fill('#rules-editor', "priority = 'Critical'\n");
  await page.click('#rules-save-btn');
  await page.waitForSelector('#rules-save-error:not([hidden])');
  assert.match(await text(page, '#rules-save-error'), /^Not saved: Sam \(5e1f00aa00000000\) saved version 4 of the rules .* since you opened version 3; reload them/);
  assert.equal((await page.db()).relayRules.script, "impact = 'Major'\n", 'Sam\'s rules are not overwritten');
  await page.click('#rules-relay-reload');
  await page.waitForSelector('#confirm-dialog[open]');
  await page.click('#confirm-ok');
  await page.waitForFunction(() => document.getElementById('rules-editor').value === "impact = 'Major'\n");
  assert.match(await text(page, '#rules-relay-detail'), /^Version 4/);
  await page.fill('#rules-editor', "impact = 'Major'\npriority = 'Critical'\n");
  await page.click('#rules-save-btn');
  await page.waitForSelector('#rules-save-status:not([hidden])');
  assert.equal((await page.db()).relayRules.version, 5);
  await page.done();
});

test('relay mode: rules from the relay\'s file are read-only but testable; a lock forgets the token', async () => {
  const page = await openAdmin({ relayRules: { script: RELAY_SCRIPT, version: 0, editable: false, source: 'the file /etc/helpdesk-relay/rules.py on the relay (rules_file in relay.toml); edit it there and restart the relay', saved_at: null, saved_by: null, admin: 'Dana' } });
  await signedIn(page);
  assert.equal(await text(page, '#rules-relay-state'), 'Read-only: these rules come from the relay’s own file.');
  assert.match(await text(page, '#rules-relay-detail'), /\/etc\/helpdesk-relay\/rules\.py/);
  assert.equal(await page.isVisible('#rules-save-btn'), false);
  await page.fill('#rules-editor', "priority = 'Critical'\n");
  assert.equal(await page.isDisabled('#save-btn'), true, 'a tried change is not an unsaved change');
  await page.click('#rules-test-btn');
  await page.waitForSelector('#rules-result-body:not([hidden])');
  assert.equal((await page.calls('admin_relay_test_rules')).length, 1);
  // An idle lock: the backend forgets the token; after unlocking, the section asks again.
  await timeOutAndUnlock(page);
  assert.equal(await page.isVisible('#rules-relay-signin'), true);
  assert.equal(await page.isVisible('#rules-editor-card'), false);
  await page.done();
});

test('relay mode: edits survive an idle lock; after unlocking and signing in again they are still there to save', async () => {
  const page = await openAdmin();
  await signedIn(page);
  await page.fill('#rules-editor', "priority = 'Critical'\n");
  // The session times out; the next call finds it locked and the window asks for the password.
  await timeOutAndUnlock(page);
  // The token went with the lock: sign in again; the edits are kept, and count as unsaved.
  assert.equal(await page.isVisible('#rules-relay-signin'), true);
  assert.equal(await text(page, '#save-status'), 'Unsaved changes');
  // Save before signing in: not saved, and the sign-in is where to go.
  await page.click('#save-btn');
  await page.waitForFunction(() => document.getElementById('save-status').dataset.tone === 'error');
  assert.equal(await text(page, '#save-status'), 'Rules not saved: see Rules');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'rules-relay-token');
  assert.match(await text(page, '#rules-relay-error'), /kept until you do/);
  await signIn(page);
  await page.waitForSelector('#rules-editor-card:not([hidden])');
  assert.equal(await value(page, '#rules-editor'), "priority = 'Critical'\n");
  assert.equal(await page.isDisabled('#rules-save-btn'), false);
  await page.click('#rules-save-btn');
  await page.waitForSelector('#rules-save-status:not([hidden])');
  assert.equal((await page.db()).relayRules.script, "priority = 'Critical'\n");
  await page.done();
});
