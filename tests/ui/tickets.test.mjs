// Page tests for the "My tickets" window (ui/tickets.html), in headless Debian Chromium through
// playwright-core, with the Tauri globals replaced by tests/ui/mock-tickets.js:
//
//   cd /work/main && PLAYWRIGHT_CORE_DIR=$PWD/tests/e2e node --test tests/ui/tickets.test.mjs
//
// The harness (server with the app's CSP, browser, page checks) is tests/ui/harness.mjs.
// Screenshots of the list and of an open thread are written to $TICKETS_SCREENSHOT_DIR (default:
// <tmp>/helpdesk-tickets-ui).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHarness, openPage, mockScript, text, focusedId } from './harness.mjs';

const SHOTS = process.env.TICKETS_SCREENSHOT_DIR || path.join(os.tmpdir(), 'helpdesk-tickets-ui');
const harness = startHarness();
before(() => { fs.mkdirSync(SHOTS, { recursive: true }); });

/**
 * A fresh page on tickets.html with mock config `cfg`. `setup` runs in the page before it loads,
 * with window.__MOCK_TAURI__ available (to patch the sample data).
 */
async function openTickets({ cfg = {}, setup = null, setupArg = null, width = 760, height = 640, query = '', waitFor = 'list' } = {}) {
  return openPage(harness, {
    url: `tickets.html${query}`,
    width,
    height,
    waitFor,
    mock: '__MOCK_TAURI__',
    prepare: async (page) => {
      await page.addInitScript((c) => { window.__MOCK_TAURI_CONFIG__ = c; }, cfg);
      await page.addInitScript({ path: mockScript('mock-tickets.js') });
      if (setup) await page.addInitScript(setup, setupArg);
    },
  });
}

const OPEN = '#ticket-card-HB-20261128-K3M9QX';
const PENDING = '#ticket-card-HB-20261128-P4N2WD';
const FAILED = '#ticket-card-HB-20261127-Z8V5RT';
const CLOSED = '#ticket-card-HB-20261116-B7C1LM';

const visible = (page, sel) => page.$eval(sel, (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length));

async function openThreadByClick(page, sel = OPEN) {
  await page.click(sel);
  await page.waitForSelector('body[data-view="thread"]');
  await page.waitForFunction(() => document.querySelectorAll('#thread-messages .msg').length > 0);
}

test('pure helpers: relative time, status kinds, labels, ids, payloads', async () => {
  const page = await openTickets();
  const r = await page.evaluate(async () => {
    const m = await import('./tickets.js');
    const now = Date.parse('2026-11-28T12:00:00Z');
    const at = (ms) => new Date(now - ms).toISOString();
    return {
      rel: [at(10e3), at(5 * 60e3), at(2 * 3600e3 + 59 * 60e3), at(30 * 3600e3), at(3 * 86400e3), at(-60e3)].map((d) => m.relativeTime(d, now)),
      old: m.relativeTime('2026-01-05T10:00:00Z', now),
      older: m.relativeTime('2024-01-05T10:00:00Z', now),
      bad: m.relativeTime('not a date', now),
      kinds: ['Open', 'pending', 'Resolved', 'CLOSED', 'Waiting for parts', null, ''].map(m.statusKind),
      labels: [m.statusLabel('123', 'Open'), m.statusLabel(null, 'Open'), m.statusLabel('7', null)],
      id: m.cardId({ reference: 'HB-1 <x>' }),
      idNoRef: m.cardId({ ticket_id: 5 }),
      payloads: [{ ticket_id: 5 }, { ticketId: 6 }, 7, '8', { ticket_id: 'x' }, null, { ticket_id: -1 }].map(m.ticketIdFromPayload),
      initials: [m.initials('Sam Tech'), m.initials('Sam (technician)'), m.initials(''), m.initials('émile  zola')],
      excerpt: m.excerpt('a\n\n  b\tc'),
      merged: m.mergeLocalReplies(
        [{ text: 'hi  there', is_technician: false }],
        [{ text: 'hi there', local: true }, { text: 'new one', local: true }],
      ),
      closed: [m.isClosed('Closed'), m.isClosed('Resolved')],
      errors: [m.normalizeError({ kind: 'network', message: 'offline' }), m.normalizeError('boom'), m.normalizeError(null)],
    };
  });
  assert.deepEqual(r.rel, ['just now', '5 min ago', '2 h ago', 'yesterday', '3 days ago', 'just now']);
  assert.match(r.old, /Jan/);
  assert.doesNotMatch(r.old, /2026/);
  assert.match(r.older, /2024/);
  assert.equal(r.bad, '');
  assert.deepEqual(r.kinds, ['open', 'pending', 'resolved', 'closed', 'custom', 'none', 'none']);
  assert.deepEqual(r.labels, ['#123 · Open', 'Open', '#7']);
  assert.equal(r.id, 'ticket-card-HB-1__x_');
  assert.equal(r.idNoRef, 'ticket-card-id-5');
  assert.deepEqual(r.payloads, [5, 6, 7, 8, null, null, null]);
  assert.deepEqual(r.initials, ['ST', 'S', '?', 'ÉZ']);
  assert.equal(r.excerpt, 'a b c');
  assert.equal(r.merged.comments.length, 2);
  assert.deepEqual(r.merged.pending.map((x) => x.text), ['new one']);
  assert.deepEqual(r.closed, [true, false]);
  assert.deepEqual(r.errors.map((e) => e.kind), ['network', 'internal', 'internal']);
  await page.done();
});

test('list: header, four cards in order, statuses, unread dot, outbox states, relative dates', async () => {
  const page = await openTickets();
  assert.equal(await text(page, '#tickets-title'), 'My tickets');
  assert.equal(await text(page, '#company-name'), 'Contoso IT support');
  const cards = await page.$$eval('#ticket-list .ticket-card', (els) => els.map((e) => ({
    id: e.id, tag: e.tagName, state: e.dataset.state, status: e.dataset.status, unread: e.dataset.unread,
  })));
  assert.deepEqual(cards.map((c) => c.id), [PENDING, OPEN, FAILED, CLOSED].map((s) => s.slice(1)));
  assert.deepEqual(cards.map((c) => c.tag), ['DIV', 'BUTTON', 'DIV', 'BUTTON'], 'only sent tickets open a thread');

  // Open ticket: "#123 · Open" blue pill, unread dot, the reply excerpt and who wrote it.
  assert.equal(await text(page, `${OPEN}-status`), '#123 · Open');
  assert.equal(await page.$eval(`${OPEN}-status`, (e) => e.dataset.status), 'open');
  assert.ok(await page.$(`${OPEN} .unread-dot`), 'unread dot');
  assert.equal(await page.$eval(OPEN, (e) => e.dataset.unread), 'true');
  assert.match(await text(page, `${OPEN}-reply`), /^Hi Ada, I have reset your mailbox/);
  assert.match(await text(page, `${OPEN} .reply-by`), /Sam \(technician\)/);
  const clamp = await page.$eval(`${OPEN}-reply`, (e) => ({ lines: getComputedStyle(e).webkitLineClamp, h: e.getBoundingClientRect().height, lh: parseFloat(getComputedStyle(e).lineHeight) }));
  assert.equal(clamp.lines, '2');
  assert.ok(clamp.h <= clamp.lh * 2 + 1, `reply excerpt is at most 2 lines (${clamp.h}px)`);
  assert.equal(await text(page, `${OPEN} .card-time`), '2 h ago');
  const title = await page.$eval(`${OPEN} .card-time`, (e) => e.title);
  assert.match(title, /\d{4}/, 'full date in the title attribute');

  // Closed ticket: grey pill, no unread dot.
  assert.equal(await text(page, `${CLOSED}-status`), '#98 · Closed');
  assert.equal(await page.$eval(`${CLOSED}-status`, (e) => e.dataset.status), 'closed');
  assert.equal(await page.$(`${CLOSED} .unread-dot`), null);

  // Outbox entries: waiting / not sent yet with the error and a Retry button.
  assert.equal(await text(page, `${PENDING}-status`), 'Waiting to be sent');
  assert.equal(await page.$(`${PENDING}-retry`), null);
  assert.equal(await text(page, `${FAILED}-status`), 'Not sent yet');
  assert.match(await text(page, `${FAILED}-error`), /401 Unauthorized/);
  assert.equal(await text(page, `${FAILED}-retry`), 'Retry');
  assert.equal(await page.$(`${FAILED} .status-pill[data-status="open"]`), null);

  // Pill colours differ per status.
  const colours = await page.evaluate(() => {
    const probe = (s) => {
      const p = document.createElement('span');
      p.className = 'status-pill'; p.dataset.status = s; p.textContent = 'x';
      document.body.append(p);
      const c = getComputedStyle(p).backgroundColor; p.remove(); return c;
    };
    return ['open', 'pending', 'resolved', 'closed', 'custom'].map(probe);
  });
  assert.equal(new Set(colours).size, 5, `distinct pill colours: ${colours}`);
  await page.screenshot({ path: path.join(SHOTS, 'tickets-list.png'), fullPage: true });
  await page.done();
});

test('statuses Pending, Resolved and a custom one get their own pills', async () => {
  const page = await openTickets({
    setup: () => {
      const t = window.__MOCK_TAURI__.config.list.tickets;
      t.push(
        { reference: 'HB-A', ticket_id: 201, ticket_number: '201', subject: 'Waiting on vendor', created_at: new Date(Date.now() - 4 * 86400e3).toISOString(), state: 'sent', status: 'Pending', last_reply: null, unread: false, last_error: null },
        { reference: 'HB-B', ticket_id: 202, ticket_number: '202', subject: 'Fixed', created_at: new Date(Date.now() - 5 * 86400e3).toISOString(), state: 'sent', status: 'Resolved', last_reply: null, unread: false, last_error: null },
        { reference: 'HB-C', ticket_id: 203, ticket_number: '203', subject: 'Parts ordered', created_at: new Date(Date.now() - 6 * 86400e3).toISOString(), state: 'sent', status: 'Waiting for parts', last_reply: null, unread: false, last_error: null },
      );
    },
  });
  assert.equal(await text(page, '#ticket-card-HB-A-status'), '#201 · Pending');
  assert.equal(await page.$eval('#ticket-card-HB-A-status', (e) => e.dataset.status), 'pending');
  assert.equal(await page.$eval('#ticket-card-HB-B-status', (e) => e.dataset.status), 'resolved');
  assert.equal(await page.$eval('#ticket-card-HB-C-status', (e) => e.dataset.status), 'custom');
  assert.equal(await text(page, '#ticket-card-HB-C-status'), '#203 · Waiting for parts');
  assert.equal(await text(page, '#ticket-card-HB-C .card-time'), '6 days ago');
  await page.done();
});

test('HTML in a reply, a subject or an error is shown as text', async () => {
  const evil = '<img src=x onerror="alert(1)"><b>bold</b><script>alert(2)</script>';
  const page = await openTickets({
    setup: (s) => {
      const m = window.__MOCK_TAURI__.config;
      m.list.company_name = '<i>Evil</i> Corp';
      m.list.tickets[1].last_reply.text = s;
      m.list.tickets[1].subject = `Subject ${s}`;
      m.list.tickets[2].last_error = s;
      m.threads[123].comments[1].text = s;
      m.threads[123].comments[1].from = '<u>Sam</u>';
      m.threads[123].subject = `Subject ${s}`;
    },
    setupArg: evil,
  });
  assert.equal(await text(page, `${OPEN}-reply`), evil);
  assert.equal(await text(page, `${OPEN} .card-subject`), `Subject ${evil}`);
  assert.equal(await text(page, `${FAILED}-error`), evil);
  assert.equal(await text(page, '#company-name'), '<i>Evil</i> Corp support');
  assert.equal(await page.$$eval('#ticket-list img, #ticket-list b, #ticket-list script, #app-header i', (e) => e.length), 0);
  await openThreadByClick(page);
  assert.equal(await text(page, '#thread-message-1 .msg-bubble'), evil);
  assert.equal(await text(page, '#thread-message-1 .msg-from'), '<u>Sam</u>');
  assert.equal(await text(page, '#thread-subject'), `Subject ${evil}`);
  assert.equal(await page.$$eval('#thread-view img, #thread-view b, #thread-view u, #thread-view script', (e) => e.length), 0);
  await page.waitForTimeout(100);
  await page.done();
});

test('empty state', async () => {
  const page = await openTickets({ setup: () => { window.__MOCK_TAURI__.config.list.tickets = []; } });
  assert.ok(await visible(page, '#empty-state'));
  assert.equal(
    (await text(page, '#empty-state')).replace(/\s+/g, ' '),
    'No tickets from this PC yet. Press the help button whenever something goes wrong.',
  );
  assert.equal(await page.$$eval('#ticket-list .ticket-card', (e) => e.length), 0);
  await page.screenshot({ path: path.join(SHOTS, 'tickets-empty.png') });
  await page.done();
});

test('a list that fails to load says so and can be tried again', async () => {
  const page = await openTickets({ cfg: { listError: { kind: 'internal', message: 'The ticket store is locked.' } }, waitFor: 'error' });
  assert.equal(await text(page, '#load-error-message'), 'The ticket store is locked.');
  await page.evaluate(() => window.__MOCK_TAURI__.configure({ listError: null }));
  await page.click('#load-retry-btn');
  await page.waitForSelector('body[data-view="list"]');
  assert.equal(await page.$$eval('#ticket-list .ticket-card', (e) => e.length), 4);
  await page.done();
});

test('opening a thread: my_tickets_thread, bubbles left and right, names and times, read', async () => {
  const page = await openTickets();
  await openThreadByClick(page);
  assert.deepEqual((await page.calls('my_tickets_thread')).map((c) => c.args), [{ ticketId: 123 }]);
  assert.ok(await visible(page, '#thread-view'));
  assert.equal(await visible(page, '#list-view'), false);
  assert.equal(await text(page, '#thread-subject'), 'Outlook keeps asking for my password');
  assert.equal(await text(page, '#thread-status'), '#123 · Open');
  assert.equal(await page.$eval('#thread-status', (e) => e.dataset.status), 'open');
  const msgs = await page.$$eval('#thread-messages .msg', (els) => els.map((e) => {
    const b = e.querySelector('.msg-bubble').getBoundingClientRect();
    const list = e.parentElement.getBoundingClientRect();
    return {
      tech: e.classList.contains('msg-tech'),
      from: e.querySelector('.msg-from').textContent,
      time: e.querySelector('.msg-time').textContent,
      title: e.querySelector('.msg-time').title,
      left: Math.round(b.left - list.left), right: Math.round(list.right - b.right),
      text: e.querySelector('.msg-bubble').textContent,
    };
  }));
  assert.deepEqual(msgs.map((m) => m.tech), [false, true, false, true]);
  assert.deepEqual(msgs.map((m) => m.from), ['You', 'Sam Tech', 'You', 'Sam Tech']);
  for (const m of msgs) {
    assert.ok(m.time.length > 0 && m.title.length > 0, 'every message has a time and a full date');
    if (m.tech) assert.ok(m.left < 60 && m.right > 40, `technician on the left: ${JSON.stringify(m)}`);
    else assert.ok(m.right < 2 && m.left > 40, `you on the right: ${JSON.stringify(m)}`);
  }
  assert.match(msgs[0].text, /\n\nWindows 11/, 'line breaks kept');
  assert.equal(await page.$eval('#thread-messages .msg-bubble', (e) => getComputedStyle(e).whiteSpace), 'pre-wrap');
  assert.ok(await visible(page, '#reply-text'));
  assert.ok(await visible(page, '#send-reply-btn'));
  assert.equal(await visible(page, '#thread-closed'), false);
  // The backend marked it read: the list no longer shows the dot.
  assert.equal(await page.$(`${OPEN} .unread-dot`), null);
  await page.screenshot({ path: path.join(SHOTS, 'tickets-thread.png') });
  await page.screenshot({ path: path.join(SHOTS, 'tickets-thread-full.png'), fullPage: true });
  await page.done();
});

test('reply: sends {ticketId, text}, disables while sending, appends a bubble, clears the box', async () => {
  const page = await openTickets({ cfg: { replyDelay: 400 } });
  await openThreadByClick(page);
  await page.fill('#reply-text', '  It works now, thank you!  ');
  await page.click('#send-reply-btn');
  await page.waitForFunction(() => document.getElementById('send-reply-btn').disabled);
  assert.equal(await page.$eval('#send-reply-btn', (e) => e.dataset.state), 'sending');
  assert.equal(await page.$eval('#reply-text', (e) => e.readOnly), true);
  await page.keyboard.press('Control+Enter'); // ignored while sending
  await page.waitForFunction(() => !document.getElementById('send-reply-btn').disabled);
  assert.deepEqual((await page.calls('my_tickets_reply')).map((c) => c.args), [{ ticketId: 123, text: 'It works now, thank you!' }]);
  assert.equal(await page.$eval('#reply-text', (e) => e.value), '');
  const last = await page.$eval('#thread-messages .msg:last-child', (e) => ({ you: e.classList.contains('msg-you'), text: e.querySelector('.msg-bubble').textContent, from: e.querySelector('.msg-from').textContent }));
  assert.deepEqual(last, { you: true, text: 'It works now, thank you!', from: 'You' });
  assert.equal(await visible(page, '#reply-error'), false);
  // A refetch that now includes the reply does not show it twice.
  await page.evaluate(() => window.__MOCK_TAURI__.emit('tickets-changed'));
  await page.waitForFunction(() => window.__MOCK_TAURI__.callsOf('my_tickets_thread').length === 2);
  await page.waitForTimeout(100);
  assert.equal(await page.$$eval('#thread-messages .msg', (e) => e.length), 5);

  // Ctrl+Enter sends too.
  await page.fill('#reply-text', 'One more thing');
  await page.keyboard.press('Control+Enter');
  await page.waitForFunction(() => window.__MOCK_TAURI__.callsOf('my_tickets_reply').length === 2);
  await page.waitForFunction(() => document.querySelector('#thread-messages .msg:last-child .msg-bubble').textContent === 'One more thing');
  await page.done();
});

test('reply failure keeps the typed text and shows an inline error; empty reply is not sent', async () => {
  const page = await openTickets({ cfg: { replyError: { kind: 'network', message: 'The network is unreachable.' } } });
  await openThreadByClick(page);
  await page.click('#send-reply-btn');
  assert.equal(await text(page, '#reply-error'), 'Write your reply first.');
  assert.equal((await page.calls('my_tickets_reply')).length, 0);

  await page.fill('#reply-text', 'Still broken after restart');
  assert.equal(await visible(page, '#reply-error'), false, 'typing clears the error');
  await page.click('#send-reply-btn');
  await page.waitForSelector('#reply-error:not([hidden])');
  assert.match(await text(page, '#reply-error'), /The network is unreachable\./);
  assert.match(await text(page, '#reply-error'), /still here/);
  assert.equal(await page.$eval('#reply-text', (e) => e.value), 'Still broken after restart');
  assert.equal(await page.$eval('#reply-text', (e) => e.getAttribute('aria-invalid')), 'true');
  assert.equal(await page.$eval('#send-reply-btn', (e) => e.disabled), false);
  assert.equal(await focusedId(page), 'reply-text');
  assert.equal(await page.$$eval('#thread-messages .msg', (e) => e.length), 4, 'nothing appended');
  await page.screenshot({ path: path.join(SHOTS, 'tickets-reply-error.png') });

  // The text survives going back and coming again; then it goes through.
  await page.keyboard.press('Escape');
  await page.waitForSelector('body[data-view="list"]');
  await openThreadByClick(page);
  assert.equal(await page.$eval('#reply-text', (e) => e.value), 'Still broken after restart');
  await page.evaluate(() => window.__MOCK_TAURI__.configure({ replyError: null }));
  await page.click('#send-reply-btn');
  await page.waitForFunction(() => document.getElementById('reply-text').value === '');
  assert.equal(await visible(page, '#reply-error'), false);
  await page.done();
});

test('atera rejection of a reply shows its message', async () => {
  const page = await openTickets({ cfg: { replyError: { kind: 'atera', message: 'Atera answered 500.' } } });
  await openThreadByClick(page);
  await page.fill('#reply-text', 'Hello');
  await page.keyboard.press('Control+Enter');
  await page.waitForSelector('#reply-error:not([hidden])');
  assert.match(await text(page, '#reply-error'), /Atera answered 500\./);
  assert.equal(await page.$eval('#reply-text', (e) => e.value), 'Hello');
  await page.done();
});

test('retry calls my_tickets_retry with the reference and refreshes the list', async () => {
  const page = await openTickets();
  const before = (await page.calls('my_tickets_list')).length;
  await page.click(`${FAILED}-retry`);
  await page.waitForFunction(() => window.__MOCK_TAURI__.callsOf('my_tickets_retry').length === 1);
  assert.deepEqual((await page.calls('my_tickets_retry'))[0].args, { reference: 'HB-20261127-Z8V5RT' });
  await page.waitForFunction((n) => window.__MOCK_TAURI__.callsOf('my_tickets_list').length > n, before);
  await page.waitForFunction((sel) => document.querySelector(sel).textContent === 'Waiting to be sent', `${FAILED}-status`);
  assert.equal(await page.$(`${FAILED}-retry`), null);
  await page.done();
});

test('a failed retry says why on the card', async () => {
  const page = await openTickets({ cfg: { retryError: { kind: 'internal', message: 'The outbox is busy.' } } });
  await page.click(`${FAILED}-retry`);
  await page.waitForSelector(`${FAILED} .card-retry-error`);
  assert.equal(await text(page, `${FAILED} .card-retry-error`), 'The outbox is busy.');
  assert.equal(await text(page, `${FAILED}-retry`), 'Retry');
  await page.done();
});

test('open-ticket event opens that thread (from the list and from another thread)', async () => {
  const page = await openTickets();
  assert.equal(await page.evaluate(() => window.__MOCK_TAURI__.listenerCount('open-ticket')), 1);
  await page.evaluate(() => window.__MOCK_TAURI__.emit('open-ticket', { ticket_id: 123 }));
  await page.waitForSelector('body[data-view="thread"]');
  await page.waitForFunction(() => document.querySelectorAll('#thread-messages .msg').length === 4);
  assert.deepEqual((await page.calls('my_tickets_thread')).map((c) => c.args), [{ ticketId: 123 }]);
  await page.evaluate(() => window.__MOCK_TAURI__.emit('open-ticket', { ticket_id: 98 }));
  await page.waitForFunction(() => document.getElementById('thread-subject').textContent.startsWith('New starter'));
  await page.waitForFunction(() => document.querySelectorAll('#thread-messages .msg').length === 2);
  assert.deepEqual((await page.calls('my_tickets_thread')).map((c) => c.args.ticketId), [123, 98]);
  await page.done();
});

test('tickets.html?ticket=123 starts on that thread', async () => {
  const page = await openTickets({ query: '?ticket=123', waitFor: 'thread' });
  await page.waitForFunction(() => document.querySelectorAll('#thread-messages .msg').length === 4);
  await page.keyboard.press('Escape');
  await page.waitForSelector('body[data-view="list"]');
  assert.equal(await page.$$eval('#ticket-list .ticket-card', (e) => e.length), 4);
  await page.done();
});

test('open_ticket in the list answer (a notification clicked before the page listened) opens that thread', async () => {
  const page = await openTickets({ setup: () => { window.__MOCK_TAURI__.config.list.open_ticket = 98; }, waitFor: 'thread' });
  await page.waitForFunction(() => document.querySelectorAll('#thread-messages .msg').length === 2);
  assert.deepEqual((await page.calls('my_tickets_thread')).map((c) => c.args), [{ ticketId: 98 }]);
  await page.evaluate(() => { window.__MOCK_TAURI__.config.list.open_ticket = null; });
  await page.keyboard.press('Escape');
  await page.waitForSelector('body[data-view="list"]');
  assert.equal(await focusedId(page), CLOSED.slice(1));
  await page.done();
});

test('a thread whose subject and status the backend does not know yet falls back to the list', async () => {
  const page = await openTickets({ setup: () => { const t = window.__MOCK_TAURI__.config.threads[123]; t.subject = null; t.status = null; t.ticket_number = null; } });
  await openThreadByClick(page);
  assert.equal(await text(page, '#thread-subject'), 'Outlook keeps asking for my password');
  assert.equal(await text(page, '#thread-status'), '#123 · Open');
  await page.done();
});

test('tickets-changed re-fetches the list and the open thread', async () => {
  const page = await openTickets();
  assert.equal((await page.calls('my_tickets_list')).length, 1);
  await page.evaluate(() => {
    const t = window.__MOCK_TAURI__.config.list.tickets;
    t[0].state = 'sent'; t[0].ticket_id = 124; t[0].ticket_number = '124'; t[0].status = 'Open';
    t[3].status = 'Resolved';
    window.__MOCK_TAURI__.emit('tickets-changed');
  });
  await page.waitForFunction(() => window.__MOCK_TAURI__.callsOf('my_tickets_list').length === 2);
  await page.waitForFunction((sel) => document.querySelector(sel).textContent === '#124 · Open', `${PENDING}-status`);
  assert.equal(await page.$eval(PENDING, (e) => e.tagName), 'BUTTON');
  assert.equal(await text(page, `${CLOSED}-status`), '#98 · Resolved');

  // With a thread open, both are fetched again and a new technician comment shows up.
  await openThreadByClick(page);
  await page.fill('#reply-text', 'draft in progress');
  await page.evaluate(() => {
    const m = window.__MOCK_TAURI__.config;
    m.threads[123].comments.push({ date: new Date().toISOString(), text: 'Connecting to your PC now.', from: 'Sam Tech', is_technician: true });
    m.threads[123].status = 'Pending';
    window.__MOCK_TAURI__.emit('tickets-changed');
  });
  await page.waitForFunction(() => document.querySelectorAll('#thread-messages .msg').length === 5);
  assert.equal(await text(page, '#thread-messages .msg:last-child .msg-bubble'), 'Connecting to your PC now.');
  assert.equal(await text(page, '#thread-status'), '#123 · Pending');
  assert.equal(await page.$eval('#reply-text', (e) => e.value), 'draft in progress', 'typing survives a refresh');
  assert.equal((await page.calls('my_tickets_list')).length, 3);
  await page.done();
});

test('Refresh button: spinner until tickets-changed, then list re-fetched', async () => {
  const page = await openTickets({ cfg: { refreshEmitAfter: 500 } });
  await page.click('#refresh-btn');
  await page.waitForFunction(() => document.getElementById('refresh-btn').dataset.state === 'refreshing');
  assert.equal(await text(page, '#refresh-label'), 'Checking…');
  assert.equal((await page.calls('my_tickets_refresh')).length, 1);
  await page.click('#refresh-btn'); // no second request while checking
  assert.equal((await page.calls('my_tickets_refresh')).length, 1);
  await page.waitForFunction(() => document.getElementById('refresh-btn').dataset.state === 'idle');
  assert.equal(await text(page, '#refresh-label'), 'Refresh');
  assert.equal((await page.calls('my_tickets_list')).length, 2);
  await page.done();
});

test('Refresh without an answer stops spinning after 15 s', async () => {
  const page = await openTickets({ cfg: { refreshEmitAfter: null } });
  await page.clock.install();
  await page.click('#refresh-btn');
  await page.waitForFunction(() => document.getElementById('refresh-btn').dataset.state === 'refreshing');
  await page.clock.runFor(14000);
  assert.equal(await page.$eval('#refresh-btn', (e) => e.dataset.state), 'refreshing');
  await page.clock.runFor(1500);
  await page.waitForFunction(() => document.getElementById('refresh-btn').dataset.state === 'idle');
  await page.done();
});

test('Refresh that fails shows a banner', async () => {
  const page = await openTickets({ cfg: { refreshError: { kind: 'network', message: 'No network.' } } });
  await page.click('#refresh-btn');
  await page.waitForSelector('#list-banner:not([hidden])');
  assert.match(await text(page, '#list-banner'), /No network\./);
  assert.equal(await page.$eval('#refresh-btn', (e) => e.dataset.state), 'idle');
  await page.done();
});

test('closed ticket: no reply box, a note instead', async () => {
  const page = await openTickets();
  await openThreadByClick(page, CLOSED);
  assert.equal(await text(page, '#thread-status'), '#98 · Closed');
  assert.equal(await visible(page, '#reply-form'), false);
  assert.equal(await visible(page, '#reply-text'), false);
  assert.ok(await visible(page, '#thread-closed'));
  assert.equal(await text(page, '#thread-closed'), 'This ticket is closed. Press the help button to report a new problem.');
  await page.keyboard.press('Control+Enter');
  await page.waitForTimeout(100);
  assert.equal((await page.calls('my_tickets_reply')).length, 0);
  await page.screenshot({ path: path.join(SHOTS, 'tickets-thread-closed.png') });
  await page.done();
});

test('thread that fails to load shows the error and can be tried again', async () => {
  const page = await openTickets({ cfg: { threadError: { kind: 'network', message: 'Atera is unreachable.' } } });
  await page.click(OPEN);
  await page.waitForSelector('#thread-error:not([hidden])');
  assert.match(await text(page, '#thread-error-message'), /Atera is unreachable\./);
  assert.equal(await visible(page, '#reply-form'), false);
  assert.equal(await text(page, '#thread-subject'), 'Outlook keeps asking for my password', 'subject from the list meanwhile');
  await page.evaluate(() => window.__MOCK_TAURI__.configure({ threadError: null }));
  await page.click('#thread-retry-btn');
  await page.waitForFunction(() => document.querySelectorAll('#thread-messages .msg').length === 4);
  assert.equal(await visible(page, '#thread-error'), false);
  assert.ok(await visible(page, '#reply-form'));
  await page.done();
});

test('keyboard: cards in tab order, Enter opens, Esc goes back to the same card, Esc on the list does nothing', async () => {
  const page = await openTickets();
  await page.keyboard.press('Tab');
  assert.equal(await focusedId(page), 'refresh-btn');
  await page.keyboard.press('Tab');
  assert.equal(await focusedId(page), OPEN.slice(1), 'the pending outbox card is not a stop; the sent one is');
  await page.keyboard.press('Tab');
  assert.equal(await focusedId(page), `${FAILED.slice(1)}-retry`);
  await page.keyboard.press('Tab');
  assert.equal(await focusedId(page), CLOSED.slice(1));
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('ArrowUp');
  assert.equal(await focusedId(page), OPEN.slice(1));

  await page.keyboard.press('Enter');
  await page.waitForSelector('body[data-view="thread"]');
  await page.waitForFunction(() => document.querySelectorAll('#thread-messages .msg').length === 4);
  assert.deepEqual((await page.calls('my_tickets_thread')).map((c) => c.args), [{ ticketId: 123 }]);
  assert.equal(await focusedId(page), 'thread-subject');
  await page.keyboard.press('Tab');
  assert.equal(await focusedId(page), 'thread-body', 'then the scrollable conversation');
  await page.keyboard.press('Tab');
  assert.equal(await focusedId(page), 'reply-text', 'then the reply box');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await focusedId(page), 'back-btn', 'the Back button comes before them');

  await page.keyboard.press('Escape');
  await page.waitForSelector('body[data-view="list"]');
  assert.equal(await focusedId(page), OPEN.slice(1), 'focus returns to the card');

  await page.keyboard.press('Escape');
  await page.waitForTimeout(100);
  assert.equal(await page.evaluate(() => document.body.dataset.view), 'list');

  // Space opens as well (it's a button); the Back button goes back too.
  await page.focus(CLOSED);
  await page.keyboard.press(' ');
  await page.waitForSelector('body[data-view="thread"]');
  await page.click('#back-btn');
  await page.waitForSelector('body[data-view="list"]');
  assert.equal(await focusedId(page), CLOSED.slice(1));

  // Esc while typing a reply goes back too, keeping the draft.
  await openThreadByClick(page);
  await page.focus('#reply-text');
  await page.keyboard.type('half a thought');
  await page.keyboard.press('Escape');
  await page.waitForSelector('body[data-view="list"]');
  await openThreadByClick(page);
  assert.equal(await page.$eval('#reply-text', (e) => e.value), 'half a thought');
  await page.done();
});

test('560 px wide: nothing overflows, cards and bubbles fit', async () => {
  const page = await openTickets({ width: 560, height: 640 });
  const overflow = (p) => p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(await overflow(page), 0, 'no horizontal scroll on the list');
  const fits = await page.$$eval('.ticket-card, .status-pill, .retry-btn', (els) => els.every((e) => e.getBoundingClientRect().right <= window.innerWidth));
  assert.ok(fits, 'cards, pills and buttons within the window');
  assert.ok(await visible(page, '#refresh-btn'));
  await page.screenshot({ path: path.join(SHOTS, 'tickets-list-560.png'), fullPage: true });
  await openThreadByClick(page);
  assert.equal(await overflow(page), 0, 'no horizontal scroll on the thread');
  const bubblesFit = await page.$$eval('.msg-bubble', (els) => els.every((e) => e.getBoundingClientRect().right <= window.innerWidth - 8));
  assert.ok(bubblesFit);
  const send = await page.$eval('#send-reply-btn', (e) => e.getBoundingClientRect());
  assert.ok(send.bottom <= 640, 'the reply box stays in view (sticky)');
  await page.screenshot({ path: path.join(SHOTS, 'tickets-thread-560.png') });
  await page.done();
});

test('long conversation: head stays on top, the latest message is in view above the reply box', async () => {
  const page = await openTickets({
    setup: () => {
      const c = window.__MOCK_TAURI__.config.threads[123].comments;
      for (let i = 0; i < 12; i += 1) c.push({ date: new Date(Date.now() - (12 - i) * 60e3).toISOString(), text: `Message ${i}\nwith a second line`, from: i % 2 ? 'You' : 'Sam Tech', is_technician: i % 2 === 0 });
    },
  });
  await openThreadByClick(page);
  await page.waitForTimeout(50);
  const r = await page.evaluate(() => {
    const last = document.querySelector('#thread-messages .msg:last-child').getBoundingClientRect();
    const form = document.getElementById('reply-form').getBoundingClientRect();
    const body = document.getElementById('thread-body');
    return {
      lastBottom: last.bottom, formTop: form.top, formBottom: form.bottom, h: window.innerHeight,
      pageScroll: document.documentElement.scrollHeight - window.innerHeight,
      scrolled: body.scrollTop, scrollable: body.scrollHeight - body.clientHeight,
      subjectTop: document.getElementById('thread-subject').getBoundingClientRect().top,
      backTop: document.getElementById('back-btn').getBoundingClientRect().top,
    };
  });
  assert.ok(r.scrollable > 0 && r.scrolled >= r.scrollable - 1, `the conversation is scrolled to the latest: ${JSON.stringify(r)}`);
  assert.ok(r.pageScroll <= 0, 'the window itself does not scroll');
  assert.ok(r.lastBottom <= r.formTop + 1, `last message above the reply box: ${JSON.stringify(r)}`);
  assert.ok(r.formBottom <= r.h + 1);
  assert.ok(r.subjectTop > 0 && r.backTop > 0, 'the Back button and the subject stay in view');
  await page.screenshot({ path: path.join(SHOTS, 'tickets-thread-long.png') });

  // A new message while the user reads older ones does not yank the scroll position.
  await page.$eval('#thread-body', (e) => { e.scrollTop = 0; });
  await page.evaluate(() => {
    window.__MOCK_TAURI__.config.threads[123].comments.push({ date: new Date().toISOString(), text: 'Newest', from: 'Sam Tech', is_technician: true });
    window.__MOCK_TAURI__.emit('tickets-changed');
  });
  await page.waitForFunction(() => document.querySelector('#thread-messages .msg:last-child .msg-bubble').textContent === 'Newest');
  assert.equal(await page.$eval('#thread-body', (e) => e.scrollTop), 0);
  await page.waitForFunction(() => /New reply from Sam Tech/.test(document.getElementById('thread-announce').textContent));
  await page.done();
});

test('accent colour from the backend is applied to the header', async () => {
  const page = await openTickets({ setup: () => { window.__MOCK_TAURI__.config.list.accent_color = '#0f766e'; } });
  assert.equal(await page.$eval('#app-header', (e) => getComputedStyle(e).backgroundColor), 'rgb(15, 118, 110)');
  await page.done();
});
