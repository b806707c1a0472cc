// Page tests for the admin settings window (ui/admin.html), in headless Debian Chromium through
// playwright-core, with the Tauri globals replaced by tests/ui/mock-admin.js.
//
//   cd /work/main && PLAYWRIGHT_CORE_DIR=$PWD/tests/e2e node --test tests/ui/admin.test.mjs
//
// The harness (server with the app's CSP, browser, page checks) is tests/ui/harness.mjs. Set
// ADMIN_SCREENSHOTS=DIR to write the review screenshots there (target/ui-screenshots/ by default).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { HERE, startHarness, openPage, mockScript, value, text } from './harness.mjs';

const SHOTS = process.env.ADMIN_SCREENSHOTS || path.resolve(HERE, '..', '..', 'target', 'ui-screenshots');
const harness = startHarness({ chromiumArgs: ['--font-render-hinting=none'] });

/**
 * A fresh admin window with mock config `cfg`. `unlocked: true` starts past the lock screen;
 * `waitFor` is the body's data-view to wait for.
 */
async function openAdmin({ cfg = {}, width = 980, height = 720, waitFor } = {}) {
  const page = await openPage(harness, {
    url: 'admin.html',
    width,
    height,
    waitFor: waitFor || (cfg.unlocked ? 'admin' : 'lock'),
    mock: '__MOCK_ADMIN__',
    prepare: async (p) => {
      await p.addInitScript((c) => { window.__MOCK_ADMIN_CONFIG__ = c; }, cfg);
      await p.addInitScript({ path: mockScript('mock-admin.js') });
    },
  });
  page.db = () => page.evaluate(() => JSON.parse(JSON.stringify(window.__MOCK_ADMIN__.db)));
  return page;
}

const visible = (page, sel) => page.isVisible(sel);
const shot = async (page, name) => {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(SHOTS, name) });
};

// ---------------------------------------------------------------------------------------------

test('pure helpers: hotkeys, sizes, paths, highlighting, offsets', async () => {
  const page = await openAdmin();
  const r = await page.evaluate(async () => {
    const m = await import('./admin.js');
    const ev = (code, key, mods = {}) => m.hotkeyFromEvent({ code, key, ctrlKey: false, altKey: false, shiftKey: false, metaKey: false, ...mods });
    const obj = { a: { b: { c: 1 } } };
    m.setPath(obj, 'a.b.d', 2);
    m.setPath(obj, 'x.y', 3);
    return {
      hk: [ev('F1', 'F1', { ctrlKey: true, shiftKey: true }), ev('F9', 'F9'), ev('KeyH', 'h', { ctrlKey: true, altKey: true }), ev('ShiftLeft', 'Shift', { shiftKey: true }), ev('Digit5', '%', { shiftKey: true, metaKey: true })],
      problems: ['Ctrl+Shift+F1', 'F9', 'H', 'Shift+H', 'Ctrl+', 'Hyper+F1', 'Ctrl+Shift', '', 'Alt+Space', 'Ctrl+F25'].map(m.hotkeyProblem),
      mb: [m.bytesToMbText(1048576), m.bytesToMbText(1572864), m.mbTextToBytes('2,5'), m.mbTextToBytes('abc'), m.mbTextToBytes(' 1 ')],
      obj,
      get: [m.getPath(obj, 'a.b.c'), m.getPath(obj, 'a.z.q')],
      locked: [m.isLockedKey('atera.defaults.priority', ['atera.defaults']), m.isLockedKey('atera.endpoint', ['atera.endpoint']), m.isLockedKey('atera.endpoint_x', ['atera.endpoint']), m.isLockedKey('hotkey', [])],
      toks: m.tokenizePython("if 'x' in selections: priority = 'High'  # hi\nname.lower()").filter((t) => t.cls).map((t) => `${t.cls}:${t.text}`),
      lines: m.highlightLines('a = """x\ny"""\nb').map((l) => l.map((t) => t.text).join('')),
      offset: [m.offsetOf('ab\ncde\nf', 2, 2), m.offsetOf('ab\ncde\nf', 9, 1), m.offsetOf('ab\ncde\nf', 1, 99)],
      strength: ['', 'short', 'abcdefgh', 'Tr0ub4dor&3x', 'correct horse battery staple', 'aaaaaaaaaaaa'].map((p) => m.passwordStrength(p).score),
      client: [m.clientProblem('support.url', 'support.contoso.com'), m.clientProblem('support.url', 'https://support.contoso.com'), m.clientProblem('support.phone', 'call me'), m.clientProblem('form.checkboxes', ['a', 'A']), m.clientProblem('form.radio_groups', [{ label: 'Q', options: ['one'] }]), m.clientProblem('branding.accent_color', '#12345')],
      kinds: ['Syntax', 'read_only', 'ReadOnly', 'lint', 'runtime'].map((k) => m.diagnosticKind(k).severity),
      examples: m.EXAMPLES.map((e) => e.id),
    };
  });
  assert.deepEqual(r.hk, [{ hotkey: 'Ctrl+Shift+F1' }, { hotkey: 'F9' }, { hotkey: 'Ctrl+Alt+H' }, null, { hotkey: 'Shift+Super+5' }]);
  assert.equal(r.problems[0], null);
  assert.equal(r.problems[1], null);
  assert.match(r.problems[2], /Add Ctrl, Alt or Super/);
  assert.match(r.problems[3], /Add Ctrl, Alt or Super: Shift\+H/);
  assert.match(r.problems[4], /empty part/);
  assert.match(r.problems[5], /not a modifier/);
  assert.match(r.problems[6], /Add a key after the modifiers/);
  assert.match(r.problems[7], /Press a key combination/);
  assert.equal(r.problems[8], null);
  assert.match(r.problems[9], /not a key the app knows/);
  assert.deepEqual(r.mb, ['1', '1.5', 2621440, null, 1048576]);
  assert.deepEqual(r.obj, { a: { b: { c: 1, d: 2 } }, x: { y: 3 } });
  assert.deepEqual(r.get, [1, undefined]);
  assert.deepEqual(r.locked, [true, true, false, false]);
  assert.deepEqual(r.toks, ['kw:if', "str:'x'", 'kw:in', 'ro:selections', 'var:priority', 'op:=', "str:'High'", 'com:# hi', 'ro:name']);
  assert.deepEqual(r.lines, ['a = """x', 'y"""', 'b']);
  assert.deepEqual(r.offset, [4, 7, 2]);
  assert.deepEqual(r.strength, [0, 0, 1, 3, 3, 1]);
  assert.match(r.client[0], /https:\/\//);
  assert.equal(r.client[1], null);
  assert.match(r.client[2], /digits/);
  assert.match(r.client[3], /repeats/);
  assert.match(r.client[4], /at least two options/);
  assert.match(r.client[5], /#2563eb/);
  assert.deepEqual(r.kinds, ['error', 'warning', 'warning', 'hint', 'error']);
  assert.deepEqual(r.examples, ['emergency', 'vip', 'domain', 'matrix', 'shouting']);
  await page.done();
});

test('first use: set a password (strength hint, mismatch, too short), then straight in', async () => {
  const page = await openAdmin({ cfg: { passwordSet: false } });
  assert.equal(await visible(page, '#setup-form'), true);
  assert.equal(await visible(page, '#unlock-form'), false);
  assert.equal(await text(page, '#setup-title'), 'Set an admin password');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'setup-password');
  await shot(page, 'admin-setup.png');
  await page.fill('#setup-password', 'short');
  assert.equal(await text(page, '#setup-strength-text'), '3 more characters');
  await page.press('#setup-password', 'Enter');
  assert.match(await text(page, '#setup-password-error'), /at least 8 characters/);
  assert.equal((await page.calls('admin_set_password')).length, 0);
  await page.fill('#setup-password', 'Blue-Harbour-42');
  assert.equal(await page.$eval('#setup-strength', (e) => Number(e.dataset.score)) >= 3, true);
  await page.fill('#setup-confirm', 'Blue-Harbour-43');
  await page.press('#setup-confirm', 'Enter');
  assert.equal(await text(page, '#setup-confirm-error'), "The two passwords don't match.");
  await page.fill('#setup-confirm', 'Blue-Harbour-42');
  await page.press('#setup-confirm', 'Enter');
  await page.waitForSelector('body[data-view="admin"]');
  assert.deepEqual((await page.calls('admin_set_password'))[0].args, { password: 'Blue-Harbour-42' });
  assert.equal(await page.$eval('#nav-atera', (e) => e.getAttribute('aria-current')), 'page');
  assert.equal(await value(page, '#atera-endpoint'), 'app.atera.com');
  await page.done();
});

test('policy sets the password and none arrived: explained, no form', async () => {
  const page = await openAdmin({ cfg: { passwordSet: false, policySetsPassword: true } });
  assert.equal(await visible(page, '#policy-wait'), true);
  assert.equal(await visible(page, '#setup-form'), false);
  assert.equal(await visible(page, '#unlock-form'), false);
  assert.match(await text(page, '#policy-wait'), /organisation/);
  await page.done();
});

test('wrong password: message, then a countdown that disables Unlock until it passes', async () => {
  const page = await openAdmin({ cfg: { throttleAfter: 2, throttleMs: 1500 } });
  assert.equal(await text(page, '#unlock-title'), 'Enter the admin password');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'unlock-password');
  await page.press('#unlock-password', 'Enter');
  assert.equal(await text(page, '#unlock-error'), 'Enter the admin password.');
  await page.fill('#unlock-password', 'guess one');
  await page.press('#unlock-password', 'Enter');
  await page.waitForFunction(() => !document.getElementById('unlock-error').hidden && document.getElementById('unlock-error').textContent.includes('not the admin password'));
  assert.equal(await visible(page, '#unlock-countdown'), false);
  assert.equal(await page.isDisabled('#unlock-btn'), false);
  await page.fill('#unlock-password', 'guess two');
  await page.press('#unlock-password', 'Enter');
  await page.waitForSelector('#unlock-countdown:not([hidden])');
  assert.match(await text(page, '#unlock-countdown'), /try again in 2 seconds/);
  assert.equal(await text(page, '#unlock-error'), 'That is not the admin password.', 'no stale "Try again in N s." next to the countdown');
  assert.equal(await page.isDisabled('#unlock-btn'), true);
  await shot(page, 'admin-lock-throttled.png');
  // Enter during the countdown sends nothing.
  await page.fill('#unlock-password', 'correct horse');
  await page.press('#unlock-password', 'Enter');
  assert.equal((await page.calls('admin_unlock')).length, 2);
  await page.waitForSelector('#unlock-countdown', { state: 'hidden', timeout: 4000 });
  assert.equal(await page.isDisabled('#unlock-btn'), false);
  await page.press('#unlock-password', 'Enter');
  await page.waitForSelector('body[data-view="admin"]');
  assert.equal((await page.calls('admin_unlock')).length, 3);
  await page.done();
});

test('a throttle already running when the window opens shows the countdown', async () => {
  const page = await openAdmin({ cfg: { throttleAfter: 1, throttleMs: 5000 } });
  await page.fill('#unlock-password', 'nope');
  await page.click('#unlock-btn');
  await page.waitForSelector('#unlock-countdown:not([hidden])');
  await page.reload();
  await page.waitForSelector('body[data-view="lock"]');
  // The reload gets a fresh mock (no throttle); check the initial-status path directly instead.
  await page.evaluate(() => { window.__MOCK_ADMIN__.db.throttleUntil = Date.now() + 3000; });
  await page.evaluate(async () => { document.getElementById('unlock-btn').disabled = false; });
  await page.fill('#unlock-password', 'nope');
  await page.click('#unlock-btn');
  await page.waitForSelector('#unlock-countdown:not([hidden])');
  assert.equal(await page.isDisabled('#unlock-btn'), true);
  await page.done();
});

test('unlock; locked fields are disabled with the policy badge', async () => {
  const page = await openAdmin({ cfg: { locked: ['atera.endpoint', 'atera.defaults.priority', 'form.checkboxes', 'branding'] } });
  await shot(page, 'admin-lock.png');
  await page.fill('#unlock-password', 'correct horse');
  await page.click('#unlock-btn');
  await page.waitForSelector('body[data-view="admin"]');
  assert.equal(await page.isDisabled('#atera-endpoint'), true);
  assert.equal(await text(page, '#atera-endpoint-lock'), "Set by your organisation's policy");
  assert.equal(await page.isDisabled('#atera-auth_mode'), false);
  assert.equal(await visible(page, '#policy-banner'), true);
  await page.click('#nav-defaults');
  assert.equal(await page.isDisabled('#atera-defaults-priority'), true);
  assert.equal(await page.isDisabled('#atera-defaults-type'), false);
  assert.equal(await visible(page, '#atera-defaults-priority-lock'), true);
  await page.click('#nav-form');
  assert.equal(await page.isDisabled('#form-checkboxes-item-0'), true);
  assert.equal(await page.isDisabled('#form-checkboxes-add'), true);
  assert.equal(await page.isDisabled('#radio-group-0-label'), false);
  await page.click('#nav-branding');
  for (const id of ['#branding-company_name', '#branding-accent_color', '#branding-accent_color-picker', '#branding-logo-file']) {
    assert.equal(await page.isDisabled(id), true, id);
  }
  assert.equal(await page.isDisabled('#support-phone'), false);
  // Every visible control has an accessible name.
  const unlabeled = await page.$$eval('input, select, textarea', (els) => els.filter((e) => e.type !== 'file' && e.offsetParent && !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')).map((e) => e.id));
  assert.deepEqual(unlabeled, []);
  await page.done();
});

test('validate as you type: debounced admin_validate, message and notes under the field', async () => {
  const page = await openAdmin({ cfg: { unlocked: true, locked: [] } });
  await page.focus('#atera-endpoint');
  await page.fill('#atera-endpoint', '');
  assert.equal(await text(page, '#atera-endpoint-error'), 'Enter the Atera address, like app.atera.com.');
  await page.keyboard.type('app.atera,com', { delay: 20 });
  await page.waitForFunction(() => document.getElementById('atera-endpoint-error').textContent.includes('comma'));
  assert.match(await text(page, '#atera-endpoint-error'), /did you mean app\.atera\.com/);
  assert.equal(await page.getAttribute('#atera-endpoint', 'aria-invalid'), 'true');
  assert.ok((await page.calls('admin_validate')).length <= 2, 'debounced, not one call per key');
  assert.equal(await text(page, '#nav-atera .nav-flag'), '1');
  await page.fill('#atera-endpoint', 'https://app.atera.com/api/v3/');
  await page.waitForSelector('#atera-endpoint-notes:not([hidden])');
  assert.equal(await visible(page, '#atera-endpoint-error'), false);
  assert.match(await text(page, '#atera-endpoint-notes'), /removed the path \/api\/v3/);
  const last = (await page.calls('admin_validate')).pop();
  assert.deepEqual(last.args, { key: 'atera.endpoint', value: 'https://app.atera.com/api/v3/' });
  await page.fill('#atera-endpoint', 'app.atera.com:8443');
  await page.waitForFunction(() => /port/.test(document.getElementById('atera-endpoint-error').textContent));
  // Client-side shapes
  await page.fill('#atera-fallback_contact_email', 'frontdesk@');
  assert.match(await text(page, '#atera-fallback_contact_email-error'), /email address/);
  await page.click('#nav-branding');
  await page.fill('#support-url', 'support.contoso.com');
  assert.match(await text(page, '#support-url-error'), /https:\/\//);
  await page.fill('#branding-accent_color', '#0f766e');
  assert.equal(await value(page, '#branding-accent_color-picker'), '#0f766e');
  assert.equal(await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--brand').trim()), '#0f766e');
  // Lists are validated as JSON.
  await page.click('#nav-form');
  await page.fill('#form-checkboxes-item-1', '');
  assert.match(await text(page, '#form-checkboxes-error'), /Checkbox 2 is empty/);
  await page.fill('#form-checkboxes-item-1', 'Urgent');
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_validate').some((c) => c.args.key === 'form.checkboxes'));
  const lc = (await page.calls('admin_validate')).filter((c) => c.args.key === 'form.checkboxes').pop();
  assert.deepEqual(JSON.parse(lc.args.value), ['This is a recurring issue', 'Urgent', 'This is about another device, not this PC']);
  await page.done();
});

test('Save sends the whole edited settings object; Ctrl+S saves; saved state reloads', async () => {
  const page = await openAdmin({ cfg: { unlocked: true, locked: ['atera.endpoint'] } });
  assert.equal(await page.isDisabled('#save-btn'), true);
  assert.equal(await text(page, '#save-status'), '');
  await page.selectOption('#atera-auth_mode', 'bearer');
  assert.equal(await page.isDisabled('#save-btn'), false);
  assert.equal(await text(page, '#save-status'), 'Unsaved changes');
  await page.click('#nav-defaults');
  await page.selectOption('#atera-defaults-impact', 'Major');
  await page.fill('#atera-defaults-status', 'Pending');
  await page.click('#nav-form');
  // checkbox list: add, edit, move up, remove
  await page.click('#form-checkboxes-add');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'form-checkboxes-item-3');
  await page.keyboard.type('My printer is broken');
  await page.click('#form-checkboxes-item-3 ~ [data-action="up"]');
  await page.click('#form-checkboxes-item-0 ~ [data-action="remove"]');
  // radio groups: rename, add an option, add and fill a group
  await page.fill('#radio-group-1-label', 'Who else is affected?');
  await page.click('#radio-group-1-add');
  await page.keyboard.type('Our customers');
  await page.click('#form-radio_groups-add');
  await page.keyboard.type('Can you still work?');
  await page.fill('#radio-group-2-option-item-0', 'Yes, but slowly');
  await page.fill('#radio-group-2-option-item-1', 'No, not at all');
  await page.check('#form-require_phone');
  // hotkey capture
  await page.click('#hotkey-capture');
  await page.keyboard.press('Control+Alt+KeyH');
  assert.equal(await value(page, '#hotkey'), 'Ctrl+Alt+H');
  assert.equal(await page.$$eval('#hotkey-keys kbd', (k) => k.map((x) => x.textContent).join('+')), 'Ctrl+Alt+H');
  await page.click('#nav-screenshots');
  await page.check('#screenshots-mode-primary-only');
  await page.uncheck('#screenshots-allow_exclude');
  await page.fill('#screenshots-max_total_bytes', '2.5');
  await page.click('#nav-branding');
  await page.fill('#branding-company_name', 'Fabrikam IT');
  await page.fill('#support-email', 'desk@fabrikam.com');
  await page.click('#nav-updates');
  await page.selectOption('#updates-channel', 'beta');
  await page.waitForTimeout(300);
  await page.keyboard.press('Control+s');
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_save').length === 1);
  await page.waitForFunction(() => document.getElementById('save-status').dataset.tone === 'ok');
  const sent = (await page.calls('admin_save'))[0].args.settings;
  assert.deepEqual(sent, {
    schema_version: 1,
    hotkey: 'Ctrl+Alt+H',
    atera: { endpoint: 'app.atera.com', auth_mode: 'bearer', fallback_contact_email: 'frontdesk@contoso.com', defaults: { priority: 'Medium', type: 'Incident', impact: 'Major', status: 'Pending' } },
    form: {
      checkboxes: ['This is an emergency', 'My printer is broken', 'This is about another device, not this PC'],
      radio_groups: [
        { label: 'How should we contact you?', options: ['Connect to my computer', 'Call me', 'Visit on site'] },
        { label: 'Who else is affected?', options: ['Only me', 'Several people', 'Everyone here', 'Our customers'] },
        { label: 'Can you still work?', options: ['Yes, but slowly', 'No, not at all'] },
      ],
      require_phone: true,
    },
    screenshots: { mode: 'primary-only', allow_exclude: false, max_total_bytes: 2621440 },
    branding: { company_name: 'Fabrikam IT', accent_color: '#2563eb', logo_data_url: '' },
    support: { phone: '+1 555 010 2030', email: 'desk@fabrikam.com', url: 'https://support.contoso.com' },
    updates: { channel: 'beta', stable_url: 'https://updates.contoso.com/helpdesk-button/stable/latest.json', beta_url: '', check_hours: 6, pubkey: '' },
  });
  assert.equal((await page.calls('admin_get_settings')).length, 2, 'reloaded after saving');
  assert.equal(await page.isDisabled('#save-btn'), true);
  assert.match(await text(page, '#save-status'), /^Saved/);
  assert.equal(await page.$$eval('.nav-flag', (f) => f.length), 0);
  await page.done();
});

test('Save with a client-side problem goes to the field and sends nothing; backend field errors are shown', async () => {
  const page = await openAdmin({ cfg: { unlocked: true, locked: [] } });
  await page.click('#nav-branding');
  await page.fill('#support-url', 'www.contoso.com');
  await page.click('#nav-about');
  await page.click('#save-btn');
  assert.equal(await page.evaluate(() => document.body.dataset.section), 'branding');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'support-url');
  assert.equal(await visible(page, '#save-summary'), true);
  assert.match(await text(page, '#save-summary-list'), /Support web page/);
  assert.equal((await page.calls('admin_save')).length, 0);
  await page.fill('#support-url', 'https://www.contoso.com');
  assert.equal(await visible(page, '#save-summary'), false);
  await page.evaluate(() => window.__MOCK_ADMIN__.configure({ saveError: { kind: 'invalid', message: 'Some settings need fixing.', fields: { 'atera.endpoint': 'Atera did not answer at this address.' } } }));
  await page.click('#save-btn');
  await page.waitForFunction(() => document.body.dataset.section === 'atera');
  assert.equal(await text(page, '#atera-endpoint-error'), 'Atera did not answer at this address.');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'atera-endpoint');
  assert.equal(await text(page, '#save-summary-title'), 'Some settings need fixing.');
  assert.equal(await page.isDisabled('#save-btn'), false, 'the edits are kept');
  await page.done();
});

test('Cancel really discards: reloads from the backend', async () => {
  const page = await openAdmin({ cfg: { unlocked: true, locked: [] } });
  await page.fill('#atera-fallback_contact_email', 'other@contoso.com');
  await page.click('#nav-form');
  await page.click('#form-checkboxes-item-0 ~ [data-action="remove"]');
  assert.equal(await page.$$eval('#form-checkboxes .list-row', (r) => r.length), 2);
  await page.click('#cancel-btn');
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_get_settings').length === 2);
  await page.waitForFunction(() => document.getElementById('save-btn').disabled);
  assert.equal(await page.$$eval('#form-checkboxes .list-row', (r) => r.length), 3);
  await page.click('#nav-atera');
  assert.equal(await value(page, '#atera-fallback_contact_email'), 'frontdesk@contoso.com');
  assert.equal(await text(page, '#save-status'), 'Changes discarded');
  // ... the rules editor too.
  await page.click('#nav-rules');
  const saved = await value(page, '#rules-editor');
  await page.fill('#rules-editor', 'priority = 1\n');
  assert.equal(await page.isDisabled('#cancel-btn'), false);
  await page.click('#cancel-btn');
  await page.waitForFunction((v) => document.getElementById('rules-editor').value === v, saved);
  assert.equal((await page.calls('admin_save')).length, 0);
  await page.done();
});

test('API key: masked status, Save key clears the field and shows only the masked form; warning banner', async () => {
  const page = await openAdmin({ cfg: { unlocked: true, apiKey: { configured: false, masked: null, source: null, warning: null }, keyWarning: 'No keychain on this PC: the key is stored in a file only you can read.' } });
  assert.equal(await text(page, '#api-key-state'), 'No key saved yet');
  assert.equal(await page.getAttribute('#api-key-input', 'type'), 'password');
  assert.equal(await page.isDisabled('#api-key-save-btn'), true);
  await page.fill('#api-key-input', 'short');
  await page.click('#api-key-save-btn');
  await page.waitForSelector('#api-key-error:not([hidden])');
  assert.match(await text(page, '#api-key-error'), /too short/);
  await page.fill('#api-key-input', 'b3f0c0ffee1234567890wxyz');
  await page.press('#api-key-input', 'Enter');
  await page.waitForSelector('#api-key-saved:not([hidden])');
  assert.deepEqual((await page.calls('admin_set_api_key')).pop().args, { key: 'b3f0c0ffee1234567890wxyz' });
  assert.equal(await value(page, '#api-key-input'), '');
  assert.equal(await text(page, '#api-key-masked'), '••••wxyz');
  assert.equal(await text(page, '#api-key-state'), 'Key saved');
  assert.equal(await text(page, '#api-key-label'), 'Replace key');
  assert.equal(await visible(page, '#api-key-warning'), true);
  assert.match(await text(page, '#api-key-warning'), /No keychain/);
  const html = await page.content();
  assert.ok(!html.includes('b3f0c0ffee1234567890wxyz'), 'the key is nowhere in the DOM');
  await page.done();
});

test('Integration Test: steps render one by one with icons; send files a test ticket', async () => {
  const page = await openAdmin({ cfg: { unlocked: true, testDelay: 300 } });
  await page.click('#run-test-send-btn');
  assert.match(await text(page, '#test-email-error'), /contact/);
  await page.fill('#test-email', 'ada@contoso');
  await page.click('#run-test-btn');
  assert.match(await text(page, '#test-email-error'), /email address/);
  await page.fill('#test-email', 'ada@contoso.com');
  await page.click('#run-test-btn');
  await page.waitForSelector('#test-step-running');
  assert.equal(await page.isDisabled('#run-test-btn'), true);
  await page.waitForFunction(() => document.getElementById('test-result').dataset.state !== 'running');
  assert.deepEqual(await page.$$eval('#test-steps .test-step', (s) => s.map((x) => x.dataset.status)), ['ok', 'ok', 'warning', 'ok']);
  assert.equal(await text(page, '#test-summary'), 'Tickets can be filed, with 1 warning.');
  assert.deepEqual((await page.calls('admin_test_connection'))[0].args, { email: 'ada@contoso.com', send: false });
  await page.click('#run-test-send-btn');
  await page.waitForFunction(() => document.querySelectorAll('#test-steps .test-step').length === 5 && document.getElementById('test-result').dataset.state !== 'running');
  assert.equal(await text(page, '#test-step-4 .step-message'), 'test ticket #1042 filed');
  assert.match(await text(page, '#test-summary'), /Test ticket #1042 filed/);
  assert.equal(await page.$eval('#test-summary', (e) => e.dataset.ticketNumber), '1042');
  await page.fill('#atera-fallback_contact_email', 'x@contoso.com');
  assert.equal(await visible(page, '#test-note'), true, 'says the test uses the saved settings');
  await page.fill('#atera-fallback_contact_email', 'frontdesk@contoso.com');
  await page.evaluate(() => document.getElementById('test-card').scrollIntoView({ block: 'end' }));
  await shot(page, 'admin-atera.png');
  // A failing step
  await page.evaluate(() => window.__MOCK_ADMIN__.configure({ testSteps: [{ name: 'Atera address', status: 'ok', message: 'answers' }, { name: 'API key', status: 'failed', message: 'Atera rejected the API key: copy it again from Admin > API.' }] }));
  await page.click('#run-test-btn');
  await page.waitForFunction(() => document.getElementById('test-result').dataset.state === 'failed');
  assert.match(await text(page, '#test-summary'), /stopped at "API key"/);
  await page.done();
});

test('a "locked" answer returns to the lock screen and keeps unsaved edits', async () => {
  const page = await openAdmin({ cfg: { unlocked: true } });
  await page.fill('#atera-fallback_contact_email', 'kept@contoso.com');
  await page.evaluate(() => window.__MOCK_ADMIN__.lockNow());
  await page.click('#nav-rules');
  await page.waitForSelector('body[data-view="lock"]');
  assert.match(await text(page, '#unlock-intro'), /unsaved changes are kept/);
  await page.fill('#unlock-password', 'correct horse');
  await page.press('#unlock-password', 'Enter');
  await page.waitForSelector('body[data-view="admin"]');
  await page.click('#nav-atera');
  assert.equal(await value(page, '#atera-fallback_contact_email'), 'kept@contoso.com');
  assert.equal(await text(page, '#save-status'), 'Unsaved changes');
  await page.done();
});

test('Lock with unsaved changes asks first; then locks', async () => {
  const page = await openAdmin({ cfg: { unlocked: true } });
  await page.fill('#atera-fallback_contact_email', 'x@contoso.com');
  await page.click('#lock-btn');
  await page.waitForSelector('#confirm-dialog[open]');
  await page.click('#confirm-cancel');
  assert.equal(await page.evaluate(() => document.body.dataset.view), 'admin');
  await page.click('#lock-btn');
  await page.click('#confirm-ok');
  await page.waitForSelector('body[data-view="lock"]');
  assert.equal((await page.calls('admin_lock')).length, 1);
  await page.done();
});

test('Form section: branding preview, logo upload and removal, size cap', async () => {
  const page = await openAdmin({ cfg: { unlocked: true, locked: ['hotkey'] } });
  await page.click('#nav-form');
  await page.waitForTimeout(100);
  await shot(page, 'admin-form.png');
  assert.equal(await page.isDisabled('#hotkey-capture'), true);
  await page.click('#nav-branding');
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
  await page.setInputFiles('#branding-logo-file', { name: 'logo.png', mimeType: 'image/png', buffer: png });
  await page.waitForSelector('#branding-logo-preview:not([hidden])');
  assert.equal(await visible(page, '#brand-preview-logo'), true);
  assert.match(await page.$eval('#branding-logo-preview', (i) => i.src), /^data:image\/png;base64,/);
  await page.setInputFiles('#branding-logo-file', { name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(210 * 1024) });
  await page.waitForSelector('#branding-logo_data_url-error:not([hidden])');
  assert.match(await text(page, '#branding-logo_data_url-error'), /under 200 KB/);
  await page.setInputFiles('#branding-logo-file', { name: 'logo.gif', mimeType: 'image/gif', buffer: png });
  await page.waitForFunction(() => /gif/.test(document.getElementById('branding-logo_data_url-error').textContent));
  await page.waitForTimeout(400);
  assert.match(await text(page, '#branding-logo_data_url-error'), /not a PNG, JPEG or SVG/);
  await page.click('#branding-logo-remove');
  assert.equal(await visible(page, '#branding-logo-preview'), false);
  await page.click('#nav-screenshots');
  await page.fill('#screenshots-max_total_bytes', 'lots');
  assert.match(await text(page, '#screenshots-max_total_bytes-error'), /size in MB/);
  await page.done();
});

// ---- rules -------------------------------------------------------------------------------------

async function typeRules(page, script) {
  await page.click('#nav-rules');
  await page.fill('#rules-editor', script);
}

test('rules: the check runs once after typing stops and marks the error line', async () => {
  const page = await openAdmin({ cfg: { unlocked: true } });
  await page.click('#nav-rules');
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_check_rules').length === 1);
  await page.waitForFunction(() => document.getElementById('rules-status').dataset.state === 'ok');
  assert.equal(await text(page, '#rules-status'), 'No problems found');
  await page.click('#rules-editor');
  await page.keyboard.press('Control+End');
  await page.keyboard.type("if priority == 'Critical'\nsubject = 'x'", { delay: 15 });
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_check_rules').length === 2);
  await page.waitForTimeout(500);
  assert.equal((await page.calls('admin_check_rules')).length, 2, 'one check per pause, not per keystroke');
  await page.waitForSelector('#rules-gutter .gutter-line.is-error');
  assert.deepEqual(await page.$$eval('#rules-gutter .gutter-line.is-error', (g) => g.map((x) => x.textContent)), ['4']);
  assert.equal(await page.$eval('#rules-highlight-code', (c) => c.children[3].classList.contains('is-error')), true);
  assert.equal(await page.$eval('#rules-status', (s) => s.dataset.state), 'error');
  assert.match(await text(page, '#rules-diagnostics'), /Line 4, column 26/);
  // The highlighted copy stays in line with the textarea.
  assert.equal(await page.$eval('#rules-highlight-code', (c) => c.textContent), await page.$eval('#rules-editor', (t) => t.value.split('\n').join('')));
  // Save refuses, inline.
  await page.click('#rules-save-btn');
  await page.waitForSelector('#rules-save-error:not([hidden])');
  assert.match(await text(page, '#rules-save-error'), /line 4, column 26: expected ':'/);
  assert.equal((await page.db()).rules.includes('subject'), false);
  await page.done();
});

test('rules: Tab inserts 4 spaces, Enter keeps the indent, Shift+Tab dedents', async () => {
  const page = await openAdmin({ cfg: { unlocked: true, rules: '' } });
  await page.click('#nav-rules');
  await page.click('#rules-editor');
  await page.keyboard.type("if 'x' in selections:");
  await page.keyboard.press('Enter');
  await page.keyboard.type("priority = 'High'");
  await page.keyboard.press('Enter');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.type('pass');
  await page.keyboard.press('Home');
  await page.keyboard.press('Tab');
  assert.equal(await value(page, '#rules-editor'), "if 'x' in selections:\n    priority = 'High'\n    pass");
  assert.equal(await page.evaluate(() => document.activeElement.id), 'rules-editor');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Tab');
  assert.notEqual(await page.evaluate(() => document.activeElement.id), 'rules-editor', 'Esc then Tab leaves');
  // A long script: the highlighted copy and the gutter follow the textarea's scrolling.
  const long = Array.from({ length: 80 }, (_, i) => `priority = 'High'  # line ${i + 1} ${'x'.repeat(i * 2)}`).join('\n');
  await page.fill('#rules-editor', long);
  const sync = await page.evaluate(() => {
    const t = document.getElementById('rules-editor');
    t.scrollTop = 600; t.scrollLeft = 120;
    t.dispatchEvent(new Event('scroll'));
    const code = document.getElementById('rules-highlight-code').style.getPropertyValue('transform');
    const gutter = document.getElementById('rules-gutter-inner').style.getPropertyValue('transform');
    const lines = document.querySelectorAll('#rules-gutter-inner .gutter-line').length;
    return { code, gutter, lines, top: t.scrollTop, left: t.scrollLeft };
  });
  assert.equal(sync.code, `translate(${-sync.left}px, ${-sync.top}px)`);
  assert.equal(sync.gutter, `translateY(${-sync.top}px)`);
  assert.equal(sync.lines, 80);
  await page.done();
});

test('rules: Test rules shows every variable, highlights changed ones; errors jump to line and column', async () => {
  const page = await openAdmin({ cfg: { unlocked: true } });
  await typeRules(page, "# escalate\npriority = 'Critical'\nsubject = '**EMERGENCY** ' + subject\nname = 'x'\n");
  await page.waitForFunction(() => document.getElementById('rules-sample').value.includes('PC-042'));
  await page.click('#rules-test-btn');
  await page.waitForSelector('#rules-result-body:not([hidden])');
  const call = (await page.calls('admin_test_rules'))[0].args;
  assert.equal(call.input.hostname, 'PC-042');
  assert.deepEqual(call.input.selections, ['This is an emergency', 'Call me']);
  assert.deepEqual(await page.$$eval('#rules-variables-body tr.is-changed', (r) => r.map((x) => x.dataset.name)), ['priority', 'subject']);
  assert.equal(await text(page, '#rules-var-priority td'), 'Criticalwas: Medium');
  assert.equal(await text(page, '#rules-var-subject td').then((t) => t.startsWith('**EMERGENCY** Outlook crashes on start')), true);
  const names = await page.$$eval('#rules-result tr[data-name]', (r) => r.map((x) => x.dataset.name));
  for (const n of ['priority', 'type', 'impact', 'status', 'subject', 'msg', 'append', 'exception', 'selections', 'hostname', 'name', 'email', 'ip', 'mac', 'username', 'os', 'input_name', 'input_email', 'input_phone']) {
    assert.ok(names.includes(n), `shows ${n}`);
  }
  assert.match(await text(page, '#rules-warnings'), /Read-only.*Line 4.*'name' is read-only/);
  assert.equal(await text(page, '#rules-changed-summary'), 'Changed: priority, subject.');
  await shot(page, 'admin-rules.png');
  await page.setViewportSize({ width: 980, height: 1180 });
  await page.evaluate(() => { document.getElementById('content').scrollTop = 0; });
  await shot(page, 'admin-rules-full.png');
  await page.setViewportSize({ width: 980, height: 720 });
  // A runtime error: the jump puts the caret on its line and column.
  await page.fill('#rules-editor', "priority = 'High'\n\nimpact = nope\n");
  await page.click('#rules-test-btn');
  await page.waitForSelector('#rules-error:not([hidden])');
  assert.equal(await text(page, '#rules-error-title'), 'Error on line 3, column 10');
  assert.match(await text(page, '#rules-error-text'), /NameError: name 'nope' is not defined/);
  assert.equal(await page.$eval('#rules-gutter', (g) => g.querySelector('.gutter-line.is-error').textContent), '3');
  await page.click('#nav-about');
  await page.click('#nav-rules');
  await page.click('#rules-error-jump');
  const caret = await page.$eval('#rules-editor', (t) => ({ start: t.selectionStart, end: t.selectionEnd, focused: document.activeElement === t }));
  assert.deepEqual(caret, { start: 28, end: 28, focused: true }); // "priority = 'High'\n\n" is 19, + 9
  // A warning in the list jumps too.
  await page.fill('#rules-editor', "x = 1\nif priority is 'High':\n    pass\n");
  await page.click('#rules-test-btn');
  await page.waitForSelector('#rules-warnings:not([hidden]) .diag');
  await page.click('#rules-warnings .diag');
  assert.equal(await page.$eval('#rules-editor', (t) => t.selectionStart), 'x = 1\nif priority '.length);
  // Invalid JSON in the sample
  await page.fill('#rules-sample', '{ "priority": }');
  await page.click('#rules-test-btn');
  assert.match(await text(page, '#rules-sample-error'), /not valid JSON/);
  await page.fill('#rules-sample', '{ "priority": 3 }');
  await page.click('#rules-test-btn');
  assert.match(await text(page, '#rules-sample-error'), /"priority" must be text in quotes/);
  await page.fill('#rules-sample', '{ "selections": "Call me" }');
  await page.click('#rules-test-btn');
  assert.match(await text(page, '#rules-sample-error'), /list of labels/);
  await page.done();
});

test('rules: examples insert valid scripts; Save rules stores them; Save also saves changed rules', async () => {
  const page = await openAdmin({ cfg: { unlocked: true, rules: '' } });
  await page.click('#nav-rules');
  await page.click('#rules-examples-btn');
  assert.equal(await visible(page, '#rules-examples-menu'), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'example-emergency');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'example-vip');
  await page.keyboard.press('Escape');
  assert.equal(await visible(page, '#rules-examples-menu'), false);
  await page.click('#rules-examples-btn');
  await page.click('#example-emergency');
  const ex = await page.evaluate(async () => (await import('./admin.js')).EXAMPLES);
  assert.equal(await value(page, '#rules-editor'), ex[0].code);
  await page.click('#rules-examples-btn');
  await page.click('#example-shouting');
  const v = await value(page, '#rules-editor');
  assert.equal(v, `${ex[0].code}\n${ex[4].code}`);
  // caret at the start of the inserted example
  assert.equal(await page.$eval('#rules-editor', (t) => t.selectionStart), ex[0].code.length + 1);
  await page.waitForFunction(() => document.getElementById('rules-status').dataset.state === 'ok');
  assert.equal(await text(page, '#save-status'), 'Unsaved changes');
  assert.equal(await page.$eval('#nav-rules .nav-flag', (f) => f.classList.contains('is-changed')), true);
  await page.click('#rules-save-btn');
  await page.waitForSelector('#rules-save-status:not([hidden])');
  assert.equal((await page.db()).rules, v);
  assert.equal(await page.isDisabled('#save-btn'), true);
  // Footer Save also saves the rules.
  await page.click('#rules-examples-btn');
  await page.click('#example-vip');
  await page.click('#save-btn');
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_save_rules').length === 2);
  await page.waitForFunction(() => document.getElementById('save-status').dataset.tone === 'ok');
  assert.equal(await page.isDisabled('#save-btn'), true);
  assert.equal((await page.db()).rules, `${v}\n${ex[1].code}`);
  assert.equal((await page.calls('admin_save')).length, 0, 'settings unchanged: only the rules were saved');
  await page.done();
});

test('every example is plain, engine-friendly Python (no %-formatting, f-strings, del or decorators)', async () => {
  const page = await openAdmin();
  const ex = await page.evaluate(async () => (await import('./admin.js')).EXAMPLES);
  for (const e of ex) {
    assert.ok(!/\bdel\b|^\s*@|\bf'|\bf"|'\s*%\s|"\s*%\s/m.test(e.code), e.id);
    assert.ok(e.code.endsWith('\n'));
  }
  await page.done();
});

test('800 px wide: no horizontal scrolling; 640 px: the nav becomes a row', async () => {
  const page = await openAdmin({ cfg: { unlocked: true }, width: 800, height: 640 });
  for (const s of ['atera', 'defaults', 'form', 'screenshots', 'branding', 'rules', 'updates', 'about']) {
    await page.click(`#nav-${s}`);
    const overflow = await page.evaluate(() => {
      const c = document.getElementById('content');
      return { page: document.documentElement.scrollWidth - document.documentElement.clientWidth, content: c.scrollWidth - c.clientWidth };
    });
    assert.deepEqual(overflow, { page: 0, content: 0 }, s);
  }
  const footer = await page.$eval('#save-btn', (b) => b.getBoundingClientRect().bottom);
  assert.ok(footer <= 640, 'Save is visible');
  await page.setViewportSize({ width: 640, height: 640 });
  const r = await page.evaluate(() => {
    const a = document.getElementById('nav-atera').getBoundingClientRect();
    const b = document.getElementById('nav-defaults').getBoundingClientRect();
    return { row: Math.abs(a.top - b.top) < 2 };
  });
  assert.equal(r.row, true);
  await page.done();
});

test('screenshots for review: about, rules with an error', async () => {
  const page = await openAdmin({ cfg: { unlocked: true, locked: ['atera.endpoint', 'atera.defaults.priority'] } });
  await page.click('#nav-defaults');
  await shot(page, 'admin-defaults.png');
  await page.click('#nav-screenshots');
  await shot(page, 'admin-screenshots.png');
  await page.click('#nav-branding');
  await shot(page, 'admin-branding.png');
  await page.click('#nav-about');
  await shot(page, 'admin-about.png');
  await typeRules(page, "if 'This is an emergency' in selections\n    priority = 'Critical'\n");
  await page.waitForSelector('#rules-gutter .gutter-line.is-error');
  await shot(page, 'admin-rules-error.png');
  await page.done();
});
