// Page tests for the Updates section of the admin settings window (ui/admin.html), in headless
// Debian Chromium through playwright-core, with the Tauri globals replaced by
// tests/ui/mock-admin.js (admin_update_status, admin_check_updates, admin_install_update).
//
//   cd /work/main && PLAYWRIGHT_CORE_DIR=$PWD/tests/e2e node --test tests/ui/admin-updates.test.mjs
//
// Set ADMIN_SCREENSHOTS=DIR to write the review screenshots there (target/ui-screenshots/ by
// default).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { HERE, startHarness, openPage, mockScript, value, text } from './harness.mjs';

const SHOTS = process.env.ADMIN_SCREENSHOTS || path.resolve(HERE, '..', '..', 'target', 'ui-screenshots');
const harness = startHarness({ chromiumArgs: ['--font-render-hinting=none'] });

const STABLE = 'https://updates.contoso.com/helpdesk-button/stable/latest.json';

/** An UpdateStatus as the backend sends it, after one check. */
const status = (outcome, more = {}) => ({
  current_version: '0.1.0',
  channel: 'stable',
  manifest_url: STABLE,
  checks: 3,
  last_check: '2026-11-28T09:12:00Z',
  last_trigger: 'schedule',
  outcome,
  install_mode: { kind: 'automatic' },
  key_source: 'built into the app',
  ...more,
});

const NEEDS_ADMIN = 'This PC runs the Linux package, which only an administrator can update. Your IT provider installs new versions (apt or the RMM); Install now asks for an administrator password.';
const UNSUPPORTED = 'This copy was not installed from a package (it runs from /tmp/helpdesk-button), so it cannot update itself. Install the .deb package to get updates.';
const TAMPERED = 'Version 0.2.0 was refused: its package does not match its signature (the file was changed after it was signed, or the download was corrupted). Nothing was installed. Re-publish the release, signed again.';

/** A fresh, unlocked admin window with mock config `cfg`. */
async function openAdmin({ cfg = {}, width = 980, height = 720 } = {}) {
  return openPage(harness, {
    url: 'admin.html',
    width,
    height,
    waitFor: cfg.unlocked === false ? 'lock' : 'admin',
    mock: '__MOCK_ADMIN__',
    prepare: async (p) => {
      await p.addInitScript((c) => { window.__MOCK_ADMIN_CONFIG__ = c; }, { unlocked: true, locked: [], ...cfg });
      await p.addInitScript({ path: mockScript('mock-admin.js') });
    },
  });
}

/** Opens the Updates section and waits until the status has been rendered. */
async function openUpdates(page) {
  await page.click('#nav-updates');
  await page.waitForFunction(() => !['loading'].includes(document.getElementById('update-card').dataset.state));
}

/** What the status card shows. */
const card = (page) => page.evaluate(() => {
  const t = (id) => document.getElementById(id).textContent.trim();
  const shown = (id) => !document.getElementById(id).hidden;
  return {
    state: document.getElementById('update-card').dataset.state,
    version: t('update-version'),
    channel: t('update-channel'),
    lastCheck: t('update-last-check'),
    manifest: t('update-manifest'),
    key: t('update-key-source'),
    tone: document.getElementById('update-outcome').dataset.tone,
    title: t('update-outcome-title'),
    text: shown('update-outcome-text') ? t('update-outcome-text') : null,
    notes: shown('update-outcome-notes') ? t('update-outcome-notes') : null,
    next: shown('update-outcome-next') ? t('update-outcome-next') : null,
    install: shown('update-install-btn'),
  };
});

const shot = async (page, name) => {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(SHOTS, name) });
};

// ---------------------------------------------------------------------------------------------

test('updates: pure helpers: manifest URLs, check hours, the status view', async () => {
  const page = await openAdmin({ cfg: { unlocked: false } });
  const r = await page.evaluate(async () => {
    const m = await import('./admin.js');
    const cp = m.clientProblem;
    return {
      urls: ['', '  ', 'https://updates.contoso.com/hb/stable/latest.json', 'http://127.0.0.1:8080/latest.json', 'http://localhost/latest.json', 'http://[::1]:9000/latest.json',
        'http://example.com/latest.json', 'updates.contoso.com/latest.json', 'ftp://updates.contoso.com/latest.json', 'https://updates contoso.com/x'].map((u) => cp('updates.stable_url', u)),
      beta: cp('updates.beta_url', 'http://example.com'),
      hours: [6, 1, 168, 0, 169, 200, '6x', '', null, 2.5].map((h) => cp('updates.check_hours', h)),
      views: {
        never: m.updateStatusView(null, { savedChannel: 'beta', fallbackVersion: '0.1.0' }),
        moved: m.updateStatusView({ channel: 'stable', last_check: '2026-11-28T09:12:00Z', last_trigger: 'start', outcome: { state: 'up-to-date' } }, { savedChannel: 'beta' }),
        unsupported: m.updateStatusView({ outcome: { state: 'ready', version: '0.2.0', notes: '' }, install_mode: { kind: 'unsupported', message: 'no' } }),
      },
    };
  });
  assert.deepEqual(r.urls.slice(0, 6), [null, null, null, null, null, null]);
  assert.equal(r.urls[6], 'Plain http is only allowed for this computer (http://127.0.0.1 or http://localhost). Use an https:// address, like https://updates.example.com/helpdesk-button/stable/latest.json.');
  assert.equal(r.urls[7], 'Use an https:// address, like https://updates.example.com/helpdesk-button/stable/latest.json.');
  assert.match(r.urls[8], /^Use an https:\/\/ address.*not ftp:\/\/\.$/);
  assert.match(r.urls[9], /spaces/);
  assert.match(r.beta, /helpdesk-button\/beta\/latest\.json/);
  assert.deepEqual(r.hours.slice(0, 3), [null, null, null]);
  for (const h of r.hours.slice(3, 6)) assert.match(h, /^Use 1 to 168 hours/);
  assert.match(r.hours[6], /whole number/);
  assert.match(r.hours[7], /Enter a number of hours/);
  assert.match(r.hours[8], /Enter a number of hours/);
  assert.match(r.hours[9], /whole number/);
  assert.equal(r.views.never.channel, 'beta');
  assert.equal(r.views.never.version, '0.1.0');
  assert.equal(r.views.never.lastCheck, 'Not checked yet');
  assert.equal(r.views.never.title, 'Not checked yet');
  assert.equal(r.views.moved.channel, 'stable');
  assert.equal(r.views.moved.nextChannel, 'beta');
  assert.match(r.views.moved.lastCheck, /2026.*\(at start\)$/);
  assert.equal(r.views.unsupported.canInstall, false);
  assert.equal(r.views.unsupported.next, 'no');
  await page.done();
});

test('updates: the status loads once when the section is first shown after unlock, with the facts', async () => {
  const page = await openAdmin({ cfg: { unlocked: false, updateStatus: status({ state: 'up-to-date' }, { last_trigger: 'manual' }) } });
  await page.fill('#unlock-password', 'correct horse');
  await page.click('#unlock-btn');
  await page.waitForSelector('body[data-view="admin"]');
  assert.equal((await page.calls('admin_update_status')).length, 0, 'not before the section is shown');
  await openUpdates(page);
  assert.equal((await page.calls('admin_update_status')).length, 1);
  const c = await card(page);
  assert.equal(c.version, '0.1.0');
  assert.equal(c.channel, 'Stable');
  assert.match(c.lastCheck, /2026/);
  assert.match(c.lastCheck, /\(manual\)$/);
  assert.equal(c.manifest, STABLE);
  assert.equal(c.key, 'Built into the app');
  assert.equal(c.tone, 'ok');
  assert.equal(c.title, 'Up to date');
  assert.equal(c.text, 'Version 0.1.0 is the newest on the stable channel.');
  assert.equal(c.install, false);
  assert.equal(await page.getAttribute('#update-outcome', 'aria-live'), 'polite');
  assert.equal(await page.$eval('#update-manifest', (e) => getComputedStyle(e).fontFamily.includes('mono') || e.classList.contains('mono')), true);
  // Back and forth: not asked again.
  await page.click('#nav-about');
  await page.click('#nav-updates');
  await page.waitForTimeout(50);
  assert.equal((await page.calls('admin_update_status')).length, 1);
  // Locking and unlocking again asks again.
  await page.click('#lock-btn');
  await page.waitForSelector('body[data-view="lock"]');
  await page.fill('#unlock-password', 'correct horse');
  await page.click('#unlock-btn');
  await page.waitForSelector('body[data-view="admin"]');
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_update_status').length === 2);
  await page.done();
});

test('updates: before any check, and the policy key source', async () => {
  const page = await openAdmin();
  await openUpdates(page);
  let c = await card(page);
  assert.equal(c.lastCheck, 'Not checked yet');
  assert.equal(c.title, 'Not checked yet');
  assert.equal(c.tone, 'none');
  assert.equal(c.manifest, '—');
  assert.equal(c.key, 'Known after the first check');
  assert.equal(c.install, false);
  await page.done();

  const policy = 'pinned by the policy file /etc/helpdesk-button/policy.toml';
  const p2 = await openAdmin({ cfg: { updateStatus: status({ state: 'up-to-date' }, { key_source: policy }) } });
  await openUpdates(p2);
  c = await card(p2);
  assert.equal(c.key, 'Pinned by the policy file /etc/helpdesk-button/policy.toml');
  assert.match(c.lastCheck, /\(scheduled\)$/);
  await p2.done();
});

test('updates: every outcome has its status line and tone', async () => {
  const cases = [
    {
      name: 'ready, installs by itself',
      st: status({ state: 'ready', version: '0.2.0', notes: 'Faster screenshots.\nA fix for the tray icon.' }),
      want: { tone: 'ready', title: 'Version 0.2.0 is ready to install', text: 'Version 0.2.0 was downloaded and its signature verified.', notes: 'Faster screenshots.\nA fix for the tray icon.', next: 'It installs the next time nobody is using the app, or when the app quits.', install: true },
    },
    {
      name: 'ready, needs an administrator, no notes',
      st: status({ state: 'ready', version: '0.2.0', notes: '' }, { install_mode: { kind: 'needs-admin', message: NEEDS_ADMIN } }),
      want: { tone: 'ready', title: 'Version 0.2.0 is ready to install', text: 'Version 0.2.0 was downloaded and its signature verified.', notes: null, next: NEEDS_ADMIN, install: true },
    },
    {
      name: 'ready, cannot install here',
      st: status({ state: 'ready', version: '0.2.0', notes: '' }, { install_mode: { kind: 'unsupported', message: UNSUPPORTED } }),
      want: { tone: 'ready', title: 'Version 0.2.0 is ready to install', text: 'Version 0.2.0 was downloaded and its signature verified.', notes: null, next: UNSUPPORTED, install: false },
    },
    {
      name: 'installed',
      st: status({ state: 'installed', version: '0.2.0' }),
      want: { tone: 'ok', title: 'Version 0.2.0 installed', text: 'The app restarts into it.', notes: null, next: null, install: false },
    },
    {
      name: 'refused',
      st: status({ state: 'failed', message: TAMPERED, refused: true }),
      want: { tone: 'error', title: 'Refused', text: TAMPERED, notes: null, next: null, install: false },
    },
    {
      name: 'failed',
      st: status({ state: 'failed', message: 'The update server could not be reached (connection refused). The app tries again at the next check.', refused: false }),
      want: { tone: 'error', title: 'The last check failed', text: 'The update server could not be reached (connection refused). The app tries again at the next check.', notes: null, next: null, install: false },
    },
    {
      name: 'not configured',
      st: status({ state: 'not-configured', message: 'No update server is set for the beta channel: enter its manifest URL (updates.beta_url).' }, { channel: 'beta', manifest_url: null, key_source: null }),
      want: { tone: 'warning', title: 'Update checks are not set up', text: 'No update server is set for the beta channel: enter its manifest URL (updates.beta_url).', notes: null, next: null, install: false },
    },
  ];
  for (const { name, st, want } of cases) {
    const page = await openAdmin({ cfg: { updateStatus: st } });
    await openUpdates(page);
    const c = await card(page);
    assert.deepEqual({ tone: c.tone, title: c.title, text: c.text, notes: c.notes, next: c.next, install: c.install }, want, name);
    assert.equal(c.state, st.outcome.state, name);
    if (name === 'not configured') {
      assert.equal(c.manifest, 'None');
      assert.match(c.channel, /^Beta \(the last check; the next one uses Stable\)$/);
    }
    if (name === 'ready, installs by itself') await shot(page, 'admin-updates-ready.png');
    if (name === 'refused') await shot(page, 'admin-updates-refused.png');
    await page.done();
  }
});

test('updates: Check now calls admin_check_updates once, shows it is busy, then renders the result', async () => {
  const result = status({ state: 'ready', version: '0.2.0', notes: 'Faster screenshots.' }, { checks: 4, last_check: '2026-11-29T10:00:00Z', last_trigger: 'manual' });
  const page = await openAdmin({ cfg: { checkDelay: 700, checkResult: result } });
  await openUpdates(page);
  assert.equal((await card(page)).title, 'Not checked yet');
  await page.click('#update-check-btn');
  assert.equal(await text(page, '#update-check-btn'), 'Checking…');
  assert.equal(await page.isDisabled('#update-check-btn'), true);
  assert.equal(await page.getAttribute('#update-check-btn', 'aria-busy'), 'true');
  assert.equal(await page.isVisible('#update-progress'), true);
  // A second click does nothing; the rest of the window keeps working meanwhile.
  await page.click('#update-check-btn', { force: true });
  await page.fill('#updates-check_hours', '12');
  await page.click('#nav-branding');
  await page.fill('#branding-company_name', 'Fabrikam IT');
  assert.equal(await page.isDisabled('#save-btn'), false);
  await page.click('#nav-updates');
  assert.equal(await text(page, '#update-check-btn'), 'Checking…');
  await page.waitForFunction(() => document.getElementById('update-card').dataset.state === 'ready');
  assert.equal((await page.calls('admin_check_updates')).length, 1);
  assert.equal(await text(page, '#update-check-btn'), 'Check now');
  assert.equal(await page.isDisabled('#update-check-btn'), false);
  assert.equal(await page.isVisible('#update-progress'), false);
  const c = await card(page);
  assert.equal(c.title, 'Version 0.2.0 is ready to install');
  assert.equal(c.notes, 'Faster screenshots.');
  assert.match(c.lastCheck, /\(manual\)$/);
  assert.equal(c.install, true);
  assert.equal(await value(page, '#updates-check_hours'), '12', 'the edits are kept');
  await page.done();
});

test('updates: a check that cannot run shows its message in the error tone', async () => {
  const page = await openAdmin({ cfg: { checkError: { kind: 'update', message: 'Another check is still running.' } } });
  await openUpdates(page);
  await page.click('#update-check-btn');
  await page.waitForFunction(() => document.getElementById('update-card').dataset.state === 'error');
  const c = await card(page);
  assert.equal(c.tone, 'error');
  assert.equal(c.text, 'Another check is still running.');
  assert.equal(await page.isDisabled('#update-check-btn'), false);
  await page.done();
});

test('updates: Install now only for a ready, installable update; installs, or shows why not', async () => {
  // Ready and installable: Install now, busy text, the restart message.
  const page = await openAdmin({ cfg: { updateStatus: status({ state: 'ready', version: '0.2.0', notes: '' }), installDelay: 500 } });
  await openUpdates(page);
  assert.equal(await page.isVisible('#update-install-btn'), true);
  assert.equal(await text(page, '#update-install-btn'), 'Install now');
  await page.click('#update-install-btn');
  assert.equal(await text(page, '#update-install-btn'), 'Installing…');
  assert.equal(await page.isDisabled('#update-install-btn'), true);
  assert.equal(await page.isDisabled('#update-check-btn'), true, 'no check while installing');
  assert.equal(await text(page, '#update-progress'), 'Installing… the app restarts when done.');
  await page.waitForFunction(() => document.getElementById('update-card').dataset.state === 'restarting');
  assert.equal((await page.calls('admin_install_update')).length, 1);
  assert.equal((await card(page)).title, 'Version 0.2.0 installed');
  assert.equal(await page.isVisible('#update-install-btn'), false);
  await page.done();

  // The install fails: its message in the card, in the error tone; the button comes back.
  const message = 'Version 0.2.0 could not be installed: pkexec was dismissed. The running version is unchanged.';
  const p2 = await openAdmin({ cfg: { updateStatus: status({ state: 'ready', version: '0.2.0', notes: '' }, { install_mode: { kind: 'needs-admin', message: NEEDS_ADMIN } }), installError: { kind: 'update', message } } });
  await openUpdates(p2);
  assert.equal(await p2.isVisible('#update-install-btn'), true, 'needs-admin can still install');
  await p2.click('#update-install-btn');
  await p2.waitForFunction(() => document.getElementById('update-card').dataset.state === 'error');
  const c = await card(p2);
  assert.equal(c.tone, 'error');
  assert.equal(c.title, 'Not installed');
  assert.equal(c.text, message);
  assert.equal((await p2.calls('admin_install_update')).length, 1);
  assert.equal(await p2.isDisabled('#update-install-btn'), false);
  assert.equal(await text(p2, '#update-install-btn'), 'Install now');
  assert.equal(await p2.isVisible('#update-progress'), false);
  // Kept when the section is left and shown again.
  await p2.click('#nav-about');
  await p2.click('#nav-updates');
  assert.equal((await card(p2)).text, message);
  await p2.done();

  // Not offered for anything but a ready update.
  for (const st of [status({ state: 'up-to-date' }), status({ state: 'installed', version: '0.2.0' }), status({ state: 'failed', message: TAMPERED, refused: true })]) {
    const p = await openAdmin({ cfg: { updateStatus: st } });
    await openUpdates(p);
    assert.equal(await p.isVisible('#update-install-btn'), false, st.outcome.state);
    await p.done();
  }
});

test('updates: client-side checks of the manifest URLs and the hours', async () => {
  const page = await openAdmin();
  await openUpdates(page);
  await page.fill('#updates-stable_url', 'http://example.com');
  assert.equal(await text(page, '#updates-stable_url-error'), 'Plain http is only allowed for this computer (http://127.0.0.1 or http://localhost). Use an https:// address, like https://updates.example.com/helpdesk-button/stable/latest.json.');
  assert.equal(await page.getAttribute('#updates-stable_url', 'aria-invalid'), 'true');
  assert.equal(await text(page, '#nav-updates .nav-flag'), '1');
  await page.fill('#updates-beta_url', 'updates.contoso.com/beta/latest.json');
  assert.equal(await text(page, '#updates-beta_url-error'), 'Use an https:// address, like https://updates.example.com/helpdesk-button/beta/latest.json.');
  await page.fill('#updates-check_hours', '200');
  assert.equal(await text(page, '#updates-check_hours-error'), 'Use 1 to 168 hours (168 is a week); 6 is the default.');
  await page.fill('#updates-check_hours', 'six');
  assert.match(await text(page, '#updates-check_hours-error'), /whole number of hours from 1 to 168/);
  await page.waitForTimeout(350);
  assert.equal((await page.calls('admin_validate')).filter((c) => c.args.key.startsWith('updates.')).length, 0, 'nothing invalid goes to the backend');
  // Save stops at the first problem and lists all three.
  await page.click('#nav-about');
  await page.click('#save-btn');
  assert.equal(await page.evaluate(() => document.body.dataset.section), 'updates');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'updates-check_hours');
  const summary = await text(page, '#save-summary-list');
  for (const label of ['Hours between checks', 'Stable manifest URL', 'Beta manifest URL']) assert.match(summary, new RegExp(label));
  assert.equal((await page.calls('admin_save')).length, 0);
  // Fixed: the errors go, and the backend has the last word.
  await page.fill('#updates-stable_url', 'http://127.0.0.1:8080/latest.json');
  await page.fill('#updates-beta_url', '');
  await page.fill('#updates-check_hours', '24');
  for (const id of ['updates-stable_url', 'updates-beta_url', 'updates-check_hours']) assert.equal(await page.isVisible(`#${id}-error`), false, id);
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_validate').some((c) => c.args.key === 'updates.check_hours'));
  const v = (await page.calls('admin_validate')).filter((c) => c.args.key === 'updates.check_hours').pop();
  assert.deepEqual(v.args, { key: 'updates.check_hours', value: '24' });
  assert.equal(await page.isVisible('#save-summary'), false);
  await page.done();
});

test('updates: the fields carry their keys, Save sends them, and the status is read again', async () => {
  const page = await openAdmin({ cfg: { updateStatus: status({ state: 'up-to-date' }) } });
  await openUpdates(page);
  const keys = await page.$$eval('#section-updates [data-key]', (els) => els.map((e) => `${e.id}=${e.dataset.key}`));
  assert.deepEqual(keys, ['updates-channel=updates.channel', 'updates-check_hours=updates.check_hours', 'updates-stable_url=updates.stable_url', 'updates-beta_url=updates.beta_url']);
  assert.equal(await page.$('[data-key="updates.pubkey"]'), null, 'the release key is never editable here');
  assert.equal(await value(page, '#updates-stable_url'), STABLE);
  assert.equal(await value(page, '#updates-beta_url'), '');
  assert.equal(await value(page, '#updates-check_hours'), '6');
  // Every visible control has an accessible name.
  const unlabeled = await page.$$eval('#section-updates input, #section-updates select, #section-updates button', (els) => els.filter((e) => e.offsetParent && !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim()).map((e) => e.id));
  assert.deepEqual(unlabeled, []);
  await page.selectOption('#updates-channel', 'beta');
  await page.fill('#updates-beta_url', 'https://updates.contoso.com/helpdesk-button/beta/latest.json');
  await page.fill('#updates-check_hours', '12');
  await page.waitForTimeout(300);
  await page.click('#save-btn');
  await page.waitForFunction(() => document.getElementById('save-status').dataset.tone === 'ok');
  const sent = (await page.calls('admin_save'))[0].args.settings.updates;
  assert.deepEqual(sent, { channel: 'beta', stable_url: STABLE, beta_url: 'https://updates.contoso.com/helpdesk-button/beta/latest.json', check_hours: 12, pubkey: '' });
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_update_status').length === 2);
  await page.waitForFunction(() => /next one uses Beta/.test(document.getElementById('update-channel').textContent));
  assert.equal(await text(page, '#update-channel'), 'Stable (the last check; the next one uses Beta)');
  // A check on the new channel: the card follows it.
  await page.click('#update-check-btn');
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_check_updates').length === 1 && document.getElementById('update-check-btn').dataset.busy === 'false');
  assert.equal(await text(page, '#update-channel'), 'Beta');
  assert.equal(await text(page, '#update-manifest'), 'https://updates.contoso.com/helpdesk-button/beta/latest.json');
  await page.done();
});

test('updates: a save from another section marks the status for reading again', async () => {
  const page = await openAdmin();
  await openUpdates(page);
  await page.click('#nav-branding');
  await page.fill('#branding-company_name', 'Fabrikam IT');
  await page.click('#save-btn');
  await page.waitForFunction(() => document.getElementById('save-status').dataset.tone === 'ok');
  assert.equal((await page.calls('admin_update_status')).length, 1);
  await page.click('#nav-updates');
  await page.waitForFunction(() => window.__MOCK_ADMIN__.callsOf('admin_update_status').length === 2);
  await page.done();
});

test('updates: policy locks disable the fields with the badge; Check now still works', async () => {
  const page = await openAdmin({ cfg: { locked: ['updates'], updateStatus: status({ state: 'up-to-date' }, { key_source: 'pinned by the policy file /etc/helpdesk-button/policy.toml' }) } });
  await openUpdates(page);
  for (const id of ['updates-channel', 'updates-stable_url', 'updates-beta_url', 'updates-check_hours']) {
    assert.equal(await page.isDisabled(`#${id}`), true, id);
    assert.equal(await text(page, `#${id}-lock`), "Set by your organisation's policy", id);
  }
  assert.equal(await page.isVisible('#policy-banner'), true);
  assert.equal(await page.isDisabled('#update-check-btn'), false);
  await shot(page, 'admin-updates-locked.png');
  await page.done();
});

test('updates: a status that cannot be read says so, and is asked again next time', async () => {
  const page = await openAdmin({ cfg: { statusError: { kind: 'internal', message: 'The update status file is damaged.' } } });
  await openUpdates(page);
  const c = await card(page);
  assert.equal(c.tone, 'error');
  assert.equal(c.title, 'The update status could not be read');
  assert.equal(c.text, 'The update status file is damaged.');
  assert.equal(c.version, '0.1.0', 'the version from admin_get_settings');
  await page.evaluate(() => window.__MOCK_ADMIN__.configure({ statusError: null }));
  await page.click('#nav-about');
  await page.click('#nav-updates');
  await page.waitForFunction(() => document.getElementById('update-card').dataset.state === 'never-checked');
  assert.equal((await page.calls('admin_update_status')).length, 2);
  await page.done();
});

test('updates: 800 px wide without horizontal scrolling, long messages wrap', async () => {
  const long = `https://updates.contoso.com/${'very-long-path-segment/'.repeat(6)}latest.json`;
  const page = await openAdmin({ width: 800, height: 640, cfg: { updateStatus: status({ state: 'failed', message: `The update manifest at ${long} is not valid (expected value at line 1 column 1). Nothing was installed. Regenerate it with \`release.sh publish\`.`, refused: false }, { manifest_url: long }) } });
  await openUpdates(page);
  const overflow = await page.evaluate(() => {
    const c = document.getElementById('content');
    return { page: document.documentElement.scrollWidth - document.documentElement.clientWidth, content: c.scrollWidth - c.clientWidth };
  });
  assert.deepEqual(overflow, { page: 0, content: 0 });
  await page.done();
});
