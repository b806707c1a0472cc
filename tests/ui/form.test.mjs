// Page tests for the ticket form (ui/index.html), in headless Debian Chromium through
// playwright-core, with the Tauri globals replaced by tests/ui/mock-tauri.js:
//
//   cd /work/main && PLAYWRIGHT_CORE_DIR=$PWD/tests/e2e node --test tests/ui/form.test.mjs
//
// The harness (server with the app's CSP, browser, page checks) is tests/ui/harness.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, openPage, mockScript, value, text, focusedId } from './harness.mjs';

const harness = startHarness();

/** A fresh page on the form, with mock config `cfg` (and `stateOverrides` merged into the state). */
async function openForm({ cfg = {}, state = {}, width = 720, height = 800, waitFor = 'form' } = {}) {
  return openPage(harness, {
    url: 'index.html',
    width,
    height,
    waitFor,
    mock: '__MOCK_TAURI__',
    prepare: async (page) => {
      await page.addInitScript(({ c, s }) => { window.__MOCK_TAURI_CONFIG__ = c; window.__MOCK_STATE_PATCH__ = s; }, { c: cfg, s: state });
      await page.addInitScript({ path: mockScript('mock-tauri.js') });
      await page.addInitScript(() => { Object.assign(window.__MOCK_TAURI__.config.state, window.__MOCK_STATE_PATCH__ || {}); });
    },
  });
}

test('deriveSubject: first line, collapsed, 50 chars at a word boundary', async () => {
  const page = await openForm();
  const r = await page.evaluate(async () => {
    const { deriveSubject: d } = await import('./form.js');
    return {
      empty: d(''),
      short: d('  Printer   is\tbroken  '),
      firstLine: d('Outlook crashes\nwhen I open attachments'),
      skipBlank: d('\n\n   \n  VPN down\nsince today'),
      exact50: d('a'.repeat(50)),
      cutWord: d('The shared drive on the accounting server disappeared this morning'),
      boundary: d(`${'word '.repeat(10)}next`),
      longWord: d('x'.repeat(70)),
      longWordThenMore: d(`${'y'.repeat(60)} more`),
      emoji: d(`${'🙂'.repeat(49)} abc`),
      nonString: d(null),
    };
  });
  assert.equal(r.empty, '');
  assert.equal(r.short, 'Printer is broken');
  assert.equal(r.firstLine, 'Outlook crashes');
  assert.equal(r.skipBlank, 'VPN down');
  assert.equal(r.exact50, 'a'.repeat(50));
  assert.equal(r.cutWord, 'The shared drive on the accounting server');
  assert.ok(r.cutWord.length <= 50);
  assert.equal(r.boundary, 'word word word word word word word word word word');
  assert.equal(r.longWord, 'x'.repeat(50));
  assert.equal(r.longWordThenMore, 'y'.repeat(50));
  assert.equal(r.emoji, '🙂'.repeat(49));
  assert.equal(r.nonString, '');
  await page.done();
});

test('validateForm and isValidEmail', async () => {
  const page = await openForm();
  const r = await page.evaluate(async () => {
    const m = await import('./form.js');
    return {
      ok: m.validateForm({ name: 'Ada', email: ' ada@contoso.com ', phone: '', description: 'Printer jam' }, {}),
      all: m.validateForm({ name: ' ', email: '', phone: '', description: '' }, { phone: true }),
      shape: m.validateForm({ name: 'A', email: 'ada@contoso', phone: '', description: 'abc' }, {}),
      optionalEmail: m.validateForm({ name: 'A', email: '', phone: '', description: 'Printer jam' }, { email: false }),
      emails: ['a@b.co', 'first.last@sub.example.org', 'a@b', 'a b@c.de', '@c.de', 'a@.de', 'a@b.c'].map(m.isValidEmail),
      accent: [m.normalizeAccent('#2563EB'), m.normalizeAccent('red'), m.normalizeAccent('#fff'), m.normalizeAccent('#12345g')],
    };
  });
  assert.deepEqual(r.ok, {});
  assert.deepEqual(Object.keys(r.all), ['name', 'email', 'phone', 'description']);
  assert.match(r.all.email, /name@company\.com/);
  assert.deepEqual(Object.keys(r.shape), ['email', 'description']);
  assert.deepEqual(r.optionalEmail, {});
  assert.deepEqual(r.emails, [true, true, false, false, false, false, false]);
  assert.deepEqual(r.accent, ['#2563eb', null, null, null]);
  await page.done();
});

test('first paint: branding, prefill, focus, form_painted, screenshots, inventory', async () => {
  const page = await openForm({ state: { accent_color: '#0f766e' } });
  assert.equal(await text(page, '#company-title'), 'Contoso IT support');
  assert.equal(await value(page, '#name'), 'Ada Lovelace');
  assert.equal(await value(page, '#email'), 'ada@contoso.com');
  assert.equal(await text(page, '#phone-label'), 'Phone (optional)');
  assert.equal(await text(page, '#name-label'), 'Your name');
  assert.equal(await focusedId(page), 'description');
  assert.equal(await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()), '#0f766e');
  await page.waitForFunction(() => window.__MOCK_TAURI__.callsOf('form_painted').length === 1);
  assert.deepEqual((await page.calls('form_painted'))[0].args, { sessionId: 3 });
  assert.equal(await text(page, '#screenshot-card-0 .shot-caption'), 'HDMI-1 · 1920×1080 · primary');
  assert.equal(await text(page, '#screenshot-card-1 .shot-caption'), 'DP-2 · 1280×1024');
  assert.equal(await page.isChecked('#screenshot-include-0'), true);
  assert.equal(await page.isChecked('#screenshot-include-1'), true);
  assert.equal(await page.$eval('#inventory', (d) => d.tagName), 'DETAILS');
  assert.equal(await page.$$eval('#inventory-body table', (t) => t.length), 3);
  assert.equal(await page.$eval('#priority', (s) => s.value), 'Medium');
  assert.equal(await page.$eval('#impact', (s) => s.selectedOptions[0].textContent), 'Minor');
  assert.equal(await page.$$eval('#radio-groups fieldset legend', (l) => l.map((x) => x.textContent).join('|')), 'How should we contact you?|Who is affected?');
  // Every visible control has an accessible label.
  const unlabeled = await page.$$eval('input, select, textarea', (els) => els.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map((e) => e.id));
  assert.deepEqual(unlabeled, []);
  assert.equal(await page.calls('save_draft').then((c) => c.length), 0, 'no draft written before any change');
  await page.done();
});

test('focus goes to the first empty required field when not prefilled', async () => {
  const page = await openForm({ state: { prefill: { name: 'Ada', email: '', phone: '' } } });
  assert.equal(await focusedId(page), 'email');
  await page.done();
});

test('subject follows the description until edited; clearing it goes back', async () => {
  const page = await openForm();
  await page.fill('#description', 'My second monitor stays black after the docking station update yesterday');
  assert.equal(await value(page, '#subject'), 'My second monitor stays black after the docking');
  await page.fill('#subject', 'Monitor black');
  await page.fill('#description', 'Something else entirely');
  assert.equal(await value(page, '#subject'), 'Monitor black');
  await page.fill('#subject', '');
  await page.click('#description');
  assert.equal(await value(page, '#subject'), 'Something else entirely');
  await page.type('#description', ' now');
  assert.equal(await value(page, '#subject'), 'Something else entirely now');
  await page.done();
});

test('Ctrl+Enter sends exactly the form object', async () => {
  const page = await openForm();
  await page.fill('#phone', ' +1 555 0101 ');
  await page.fill('#description', '  Excel freezes when saving to the shared drive.\nEvery time.  ');
  await page.check('#selection-check-0');
  await page.check('#radio-0-1');
  await page.check('#radio-1-2');
  await page.selectOption('#priority', 'High');
  await page.selectOption('#impact', 'SiteDown');
  await page.uncheck('#screenshot-include-1');
  assert.equal(await page.$eval('#screenshot-card-1', (c) => c.classList.contains('is-excluded')), true);
  await page.focus('#name');
  await page.keyboard.press('Control+Enter');
  await page.waitForSelector('body[data-view="success"]');
  const calls = await page.calls('submit_ticket');
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0].args, {
    form: {
      name: 'Ada Lovelace',
      email: 'ada@contoso.com',
      phone: '+1 555 0101',
      subject: 'Excel freezes when saving to the shared drive.',
      description: 'Excel freezes when saving to the shared drive.\nEvery time.',
      selections: ['This is a recurring issue', 'Call me', 'Everyone here'],
      priority: 'High',
      type: 'Incident',
      impact: 'SiteDown',
      included_screenshots: [0],
    },
  });
  assert.equal(await text(page, '#success-title'), 'Ticket #123 sent');
  assert.equal(await page.$eval('#success-title', (e) => e.dataset.ticketNumber), '123');
  assert.match(await text(page, '#success-message'), /within the hour/);
  await page.done();
});

test('Meta+Enter also sends; Enter in a text field does not', async () => {
  const page = await openForm();
  await page.fill('#description', 'Printer jam on floor two');
  await page.focus('#name');
  await page.keyboard.press('Enter');
  await page.waitForTimeout(100);
  assert.equal((await page.calls('submit_ticket')).length, 0);
  await page.keyboard.press('Meta+Enter');
  await page.waitForSelector('body[data-view="success"]');
  assert.equal((await page.calls('submit_ticket')).length, 1);
  await page.done();
});

test('sending state: button disabled with "Sending…", second Ctrl+Enter ignored', async () => {
  const page = await openForm({ cfg: { submitDelay: 400 } });
  await page.fill('#description', 'Printer jam on floor two');
  await page.keyboard.press('Control+Enter');
  await page.waitForFunction(() => document.getElementById('submit-btn').disabled);
  assert.equal(await text(page, '#submit-btn'), 'Sending…');
  await page.keyboard.press('Control+Enter');
  await page.waitForSelector('body[data-view="success"]');
  assert.equal((await page.calls('submit_ticket')).length, 1);
  await page.done();
});

test('Esc closes the form, but only the dialog while it is open', async () => {
  const page = await openForm();
  await page.click('#screenshot-view-1');
  await page.waitForFunction(() => document.getElementById('screenshot-dialog').open);
  await page.waitForFunction(() => document.getElementById('screenshot-dialog-image').src.length > 1000);
  assert.deepEqual((await page.calls('get_screenshot'))[0].args, { id: 1 });
  assert.equal(await text(page, '#screenshot-dialog-title'), 'DP-2 · 1280×1024');
  await page.keyboard.press('Escape');
  assert.equal(await page.$eval('#screenshot-dialog', (d) => d.open), false);
  assert.equal(await focusedId(page), 'screenshot-view-1');
  assert.equal((await page.calls('close_form')).length, 0);
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => window.__MOCK_TAURI__.callsOf('close_form').length === 1);
  await page.done();
});

test('Cancel calls close_form after saving a pending draft', async () => {
  const page = await openForm();
  await page.fill('#description', 'Half-typed');
  await page.click('#cancel-btn');
  await page.waitForFunction(() => window.__MOCK_TAURI__.callsOf('close_form').length === 1);
  const order = await page.evaluate(() => window.__MOCK_TAURI__.calls.map((c) => c.cmd).filter((c) => c === 'save_draft' || c === 'close_form'));
  assert.deepEqual(order, ['save_draft', 'close_form']);
  await page.done();
});

test('client-side validation: inline, aria, focus, summary, no submit', async () => {
  const page = await openForm();
  await page.fill('#name', '');
  await page.fill('#email', 'ada@contoso');
  await page.fill('#description', 'hi');
  await page.click('#submit-btn');
  assert.equal(await focusedId(page), 'name');
  assert.equal(await page.getAttribute('#name', 'aria-invalid'), 'true');
  assert.equal(await page.getAttribute('#email', 'aria-invalid'), 'true');
  assert.equal(await page.getAttribute('#description', 'aria-invalid'), 'true');
  assert.equal(await page.getAttribute('#phone', 'aria-invalid'), null);
  assert.match(await page.getAttribute('#email', 'aria-describedby'), /\bemail-error\b/);
  assert.match(await text(page, '#email-error'), /name@company\.com/);
  assert.match(await text(page, '#name-error'), /your name/i);
  assert.match(await text(page, '#description-error'), /at least/);
  assert.equal(await page.getAttribute('#error-summary', 'role'), 'alert');
  assert.equal(await page.isVisible('#error-summary'), true);
  assert.equal((await page.calls('submit_ticket')).length, 0);
  // Typing into a field clears its error.
  await page.fill('#name', 'Ada');
  assert.equal(await page.getAttribute('#name', 'aria-invalid'), null);
  assert.equal(await page.isVisible('#name-error'), false);
  await page.done();
});

test('server "invalid" errors show inline and keep everything', async () => {
  const page = await openForm({ cfg: { submitError: { kind: 'invalid', message: 'Please check the highlighted fields.', fields: { email: 'Enter an email address like name@company.com' } } } });
  await page.fill('#description', 'Printer jam on floor two');
  await page.keyboard.press('Control+Enter');
  await page.waitForFunction(() => document.getElementById('email').getAttribute('aria-invalid') === 'true');
  assert.equal(await text(page, '#email-error'), 'Enter an email address like name@company.com');
  assert.equal(await focusedId(page), 'email');
  assert.equal(await page.evaluate(() => document.body.dataset.view), 'form');
  assert.equal(await value(page, '#description'), 'Printer jam on floor two');
  assert.equal(await text(page, '#submit-btn'), 'Send ticket');
  assert.equal(await page.$eval('#submit-btn', (b) => b.disabled), false);
  await page.done();
});

test('server "blocked" shows the message and keeps the form', async () => {
  const page = await openForm({ cfg: { submitError: { kind: 'blocked', message: 'Tickets from this PC are paused by your IT provider.' } } });
  await page.fill('#description', 'Printer jam on floor two');
  await page.click('#submit-btn');
  await page.waitForSelector('#error-summary.is-blocked');
  assert.equal(await text(page, '#error-summary-title'), 'Tickets from this PC are paused by your IT provider.');
  assert.equal(await value(page, '#description'), 'Printer jam on floor two');
  await page.done();
});

test('failure: error view, back to the form untouched, try again', async () => {
  const page = await openForm({ cfg: { submitError: { kind: 'network', message: 'Atera could not be reached.' } } });
  await page.fill('#description', 'Printer jam on floor two');
  await page.check('#selection-check-1');
  await page.click('#submit-btn');
  await page.waitForSelector('body[data-view="error"]');
  assert.equal(await text(page, '#error-title'), "We couldn't send your ticket");
  assert.equal(await text(page, '#error-message'), 'Atera could not be reached.');
  await page.click('#error-back-btn');
  assert.equal(await page.evaluate(() => document.body.dataset.view), 'form');
  assert.equal(await value(page, '#description'), 'Printer jam on floor two');
  assert.equal(await page.isChecked('#selection-check-1'), true);
  await page.click('#submit-btn');
  await page.waitForSelector('body[data-view="error"]');
  await page.evaluate(() => window.__MOCK_TAURI__.configure({ submitError: null }));
  await page.click('#error-retry-btn');
  await page.waitForSelector('body[data-view="success"]');
  const calls = await page.calls('submit_ticket');
  assert.equal(calls.length, 3);
  assert.deepEqual(calls[2].args, calls[0].args);
  await page.done();
});

test('queued outcome shows the reference', async () => {
  const page = await openForm({ cfg: { submitResult: { outcome: 'queued', reference: 'HB-20240501-7F3A', message: 'Saved on this PC.' } } });
  await page.fill('#description', 'Printer jam on floor two');
  await page.click('#submit-btn');
  await page.waitForSelector('body[data-view="success"]');
  assert.equal(await text(page, '#success-title'), "Saved — we'll send it as soon as we can");
  assert.match(await text(page, '#success-reference'), /HB-20240501-7F3A/);
  assert.equal(await page.$eval('#success-view', (v) => v.dataset.outcome), 'queued');
  await page.done();
});

test('success: Close calls close_form; New ticket refetches and resets all but contact', async () => {
  const page = await openForm();
  await page.fill('#name', 'Ada L.');
  await page.fill('#description', 'Printer jam on floor two');
  await page.fill('#subject', 'Printer');
  await page.check('#selection-check-0');
  await page.check('#radio-0-0');
  await page.selectOption('#type', 'Request');
  await page.click('#submit-btn');
  await page.waitForSelector('body[data-view="success"]');
  await page.click('#success-close-btn');
  await page.waitForFunction(() => window.__MOCK_TAURI__.callsOf('close_form').length === 1);
  await page.click('#new-ticket-btn');
  await page.waitForSelector('body[data-view="form"]');
  assert.equal((await page.calls('get_form_state')).length, 2);
  assert.equal(await value(page, '#name'), 'Ada L.');
  assert.equal(await value(page, '#email'), 'ada@contoso.com');
  assert.equal(await value(page, '#description'), '');
  assert.equal(await value(page, '#subject'), '');
  assert.equal(await page.isChecked('#selection-check-0'), false);
  assert.equal(await page.isChecked('#radio-0-0'), false);
  assert.equal(await page.$eval('#type', (s) => s.value), 'Incident');
  assert.equal(await focusedId(page), 'description');
  await page.fill('#description', 'New problem here');
  assert.equal(await value(page, '#subject'), 'New problem here');
  await page.done();
});

test('draft is restored and wins over prefill', async () => {
  const draft = {
    name: 'Draft Name', email: 'draft@contoso.com', phone: '123', subject: 'My own subject', description: 'Typed before the crash',
    selections: ['This is an emergency', 'Visit on site'], priority: 'Critical', type: 'Problem', impact: 'Major',
    included_screenshots: [0], subject_edited: true, excluded_screenshots: [1],
  };
  const page = await openForm({ state: { draft } });
  assert.equal(await value(page, '#name'), 'Draft Name');
  assert.equal(await value(page, '#email'), 'draft@contoso.com');
  assert.equal(await value(page, '#phone'), '123');
  assert.equal(await value(page, '#description'), 'Typed before the crash');
  assert.equal(await value(page, '#subject'), 'My own subject');
  assert.equal(await page.isChecked('#selection-check-1'), true);
  assert.equal(await page.isChecked('#selection-check-0'), false);
  assert.equal(await page.isChecked('#radio-0-2'), true);
  assert.equal(await page.$eval('#priority', (s) => s.value), 'Critical');
  assert.equal(await page.$eval('#type', (s) => s.value), 'Problem');
  assert.equal(await page.$eval('#impact', (s) => s.value), 'Major');
  assert.equal(await page.isChecked('#screenshot-include-0'), true);
  assert.equal(await page.isChecked('#screenshot-include-1'), false);
  // subject_edited: the description no longer drives the subject
  await page.type('#description', ' more');
  assert.equal(await value(page, '#subject'), 'My own subject');
  await page.done();
});

test('save_draft is debounced and carries the whole draft', async () => {
  const page = await openForm();
  await page.focus('#description');
  await page.keyboard.type('Wifi drops', { delay: 40 });
  await page.uncheck('#screenshot-include-0');
  await page.waitForTimeout(150);
  assert.equal((await page.calls('save_draft')).length, 0, 'nothing saved while typing');
  await page.waitForFunction(() => window.__MOCK_TAURI__.callsOf('save_draft').length === 1);
  await page.waitForTimeout(500);
  const calls = await page.calls('save_draft');
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0].args.draft, {
    name: 'Ada Lovelace', email: 'ada@contoso.com', phone: '', subject: 'Wifi drops', description: 'Wifi drops',
    selections: [], priority: 'Medium', type: 'Incident', impact: 'Minor', included_screenshots: [1],
    subject_edited: false, excluded_screenshots: [0],
  });
  // A pending change is flushed when the page is hidden.
  await page.type('#description', '!');
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await page.waitForFunction(() => window.__MOCK_TAURI__.callsOf('save_draft').length === 2);
  assert.equal((await page.calls('save_draft'))[1].args.draft.description, 'Wifi drops!');
  await page.done();
});

test('inventory-ready fills the disclosure', async () => {
  // The inventory arrives when the test says so, not after a timer a busy machine can outrun.
  const page = await openForm({ state: { inventory: null }, cfg: { inventoryDelay: null } });
  assert.equal(await text(page, '#inventory-body'), 'Collecting…');
  await page.click('#inventory summary');
  assert.equal(await text(page, '#inventory-body'), 'Collecting…');
  await page.evaluate(() => window.__MOCK_TAURI__.emit('inventory-ready', JSON.parse(JSON.stringify(window.__MOCK_TAURI__.config.inventory))));
  await page.waitForSelector('#inventory-body table');
  assert.equal(await page.$eval('#inventory', (d) => d.dataset.state), 'ready');
  assert.match(await text(page, '#inventory-body'), /PC-042/);
  await page.done();
});

test('form-state-changed re-renders screenshots and keeps typed fields', async () => {
  const page = await openForm();
  await page.fill('#description', 'Still typing this');
  await page.uncheck('#screenshot-include-0');
  await page.evaluate(() => {
    const m = window.__MOCK_TAURI__;
    m.config.state.session_id = 4;
    m.config.state.screenshots = [{ id: 0, monitor: 'eDP-1', width: 2560, height: 1600, primary: true, thumbnail: 'auto' }];
    m.config.state.draft = { description: 'stale draft' };
    m.emit('form-state-changed', null);
  });
  await page.waitForFunction(() => document.querySelectorAll('#screenshot-list .shot').length === 1);
  assert.equal(await text(page, '#screenshot-card-0 .shot-caption'), 'eDP-1 · 2560×1600 · primary');
  assert.equal(await page.isChecked('#screenshot-include-0'), true);
  assert.equal(await value(page, '#description'), 'Still typing this');
  await page.waitForFunction(() => window.__MOCK_TAURI__.callsOf('form_painted').length === 2);
  assert.deepEqual((await page.calls('form_painted'))[1].args, { sessionId: 4 });
  await page.done();
});

test('capture error with no screenshots is shown calmly and the form still sends', async () => {
  const page = await openForm({ state: { screenshots: [], capture_error: 'Screen capture is not allowed on this desktop.' } });
  assert.match(await text(page, '#capture-status'), /not allowed on this desktop/);
  assert.equal(await page.$$eval('#screenshot-list .shot', (s) => s.length), 0);
  await page.fill('#description', 'Printer jam on floor two');
  await page.click('#submit-btn');
  await page.waitForSelector('body[data-view="success"]');
  assert.deepEqual((await page.calls('submit_ticket'))[0].args.form.included_screenshots, []);
  await page.done();
});

test('no screenshots and no error says "No screenshots"', async () => {
  const page = await openForm({ state: { screenshots: [] } });
  assert.match(await text(page, '#capture-status'), /No screenshots/);
  await page.done();
});

test('strings from data are never parsed as HTML; bad accent falls back', async () => {
  const evil = '<img src=x onerror="window.__pwned=1">';
  const page = await openForm({
    state: {
      company_name: evil, accent_color: 'red; background: url(x)', checkboxes: [evil],
      inventory: { sections: [{ title: evil, rows: [[evil, evil]] }] },
      screenshots: [{ id: 0, monitor: evil, width: 10, height: 10, primary: false, thumbnail: 'javascript:alert(1)' }],
    },
  });
  await page.waitForTimeout(100);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.$$eval('img[src="x"]', (i) => i.length), 0);
  assert.equal(await text(page, '#company-title'), `${evil} support`);
  assert.equal(await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()), '#2563eb');
  assert.equal(await page.$eval('#screenshot-card-0 .shot-frame', (f) => f.querySelector('img') === null), true);
  await page.done();
});

test('600 px wide: single column, no horizontal scrolling', async () => {
  const page = await openForm({ width: 600, height: 800 });
  const r = await page.evaluate(() => {
    const a = document.getElementById('name').getBoundingClientRect();
    const b = document.getElementById('email').getBoundingClientRect();
    return { stacked: b.top > a.bottom, overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth };
  });
  assert.equal(r.stacked, true);
  assert.equal(r.overflow, 0);
  // The footer with the send button stays visible while scrolling.
  await page.evaluate(() => window.scrollTo(0, 400));
  const box = await page.$eval('#submit-btn', (b) => b.getBoundingClientRect().bottom);
  assert.ok(box <= 800, 'send button visible');
  await page.done();
});
