// Helpdesk Button: the "My tickets" window.
//
// Plain ES module, no build step, same rules as form.js: it runs inside the Tauri webview under a
// strict CSP (no inline scripts or styles), and every piece of text coming from the backend, from
// Atera or from a technician is set with textContent, never parsed as HTML.
//
// Backend contract (window.__TAURI__.core.invoke, camelCase args, errors reject with {kind, message}):
//   my_tickets_list               -> {company_name, accent_color, tickets: [...], open_ticket?}, newest
//                                    first; open_ticket (an id or null) opens that thread
//   my_tickets_thread {ticketId}  -> {ticket_id, ticket_number, subject, status, comments: [...]}
//   my_tickets_reply {ticketId, text} -> {ok: true}
//   my_tickets_retry {reference}  -> null
//   my_tickets_refresh            -> null; the backend answers with `tickets-changed` when done
// Events: `tickets-changed` (re-fetch the list and the open thread), `open-ticket` {ticket_id}.
// The window may also be opened as tickets.html?ticket=123 to start on that conversation.
//
// The pure helpers at the top are exported for tests; the page wiring only runs in a browser.
// Helpers shared with the other windows live in common.js.

import {
  $, el, showViews, whenReady, startPage, invoke, listen, normalizeError,
  isMac, isComposing, isModChord, isEscape, ACCENT_PROPERTIES, applyAccent, supportTitle,
} from './common.js';

export { normalizeError, normalizeAccent, accentPalette } from './common.js';

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for tests)
// ---------------------------------------------------------------------------------------------

export const REFRESH_TIMEOUT_MS = 15000;
const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function toDate(value) {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "just now", "5 min ago", "2 h ago", "yesterday", "3 days ago", "12 Nov", "12 Nov 2024". */
export function relativeTime(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return '';
  const nowMs = now instanceof Date ? now.getTime() : now;
  const diff = nowMs - d.getTime();
  if (diff < 45 * 1000) return 'just now'; // also a clock a little ahead of ours
  if (diff < HOUR) return `${Math.max(1, Math.round(diff / MINUTE))} min ago`;
  if (diff < DAY) return `${Math.floor(diff / HOUR)} h ago`;
  if (diff < 2 * DAY) return 'yesterday';
  if (diff < 7 * DAY) return `${Math.floor(diff / DAY)} days ago`;
  const sameYear = d.getFullYear() === new Date(nowMs).getFullYear();
  return d.toLocaleDateString(undefined, sameYear ? { day: 'numeric', month: 'short' } : { day: 'numeric', month: 'short', year: 'numeric' });
}

/** The full local date and time, for title attributes. */
export function fullDate(value) {
  const d = toDate(value);
  if (!d) return '';
  try {
    return d.toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' });
  } catch {
    return d.toLocaleString();
  }
}

/** A chat timestamp: "14:05", "Yesterday 14:05", "12 Nov, 14:05", "12 Nov 2024, 14:05". */
export function messageTime(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return '';
  const n = new Date(now instanceof Date ? now.getTime() : now);
  const time = d.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
  const startOfDay = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((startOfDay(n) - startOfDay(d)) / DAY);
  if (days <= 0) return time;
  if (days === 1) return `Yesterday ${time}`;
  const date = d.toLocaleDateString(undefined, d.getFullYear() === n.getFullYear()
    ? { day: 'numeric', month: 'short' }
    : { day: 'numeric', month: 'short', year: 'numeric' });
  return `${date}, ${time}`;
}

/** The colour family of a status: open, pending, resolved, closed, custom or none. */
export function statusKind(status) {
  if (typeof status !== 'string' || !status.trim()) return 'none';
  const s = status.trim().toLowerCase();
  if (['open', 'pending', 'resolved', 'closed'].includes(s)) return s;
  return 'custom';
}

export function isClosed(status) {
  return statusKind(status) === 'closed';
}

/** "#123 · Open", "#123", "Open" or "". */
export function statusLabel(number, status) {
  const parts = [];
  if (number !== null && number !== undefined && String(number).trim()) parts.push(`#${String(number).trim()}`);
  if (typeof status === 'string' && status.trim()) parts.push(status.trim());
  return parts.join(' · ');
}

/** A DOM id for a ticket card, from the ticket's reference (or its id when it has none). */
export function cardId(ticket) {
  const key = ticket && typeof ticket.reference === 'string' && ticket.reference
    ? ticket.reference
    : `id-${ticket && ticket.ticket_id}`;
  return `ticket-card-${String(key).replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** Whitespace collapsed, for the two-line excerpt of a reply. */
export function excerpt(text, max = 400) {
  if (typeof text !== 'string') return '';
  const flat = text.replace(/\s+/gu, ' ').trim();
  const chars = Array.from(flat);
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : flat;
}

/** Initials for a technician's avatar: "Sam Tech" -> "ST", "Sam (technician)" -> "S". */
export function initials(name) {
  if (typeof name !== 'string') return '?';
  const words = name.replace(/\(.*?\)/g, ' ').split(/\s+/).filter((w) => /\p{L}|\p{N}/u.test(w));
  if (!words.length) return '?';
  const first = (w) => Array.from(w.replace(/^[^\p{L}\p{N}]+/u, ''))[0] || '';
  return (first(words[0]) + (words.length > 1 ? first(words[words.length - 1]) : '')).toUpperCase() || '?';
}

/** The ticket id in an `open-ticket` payload: {ticket_id}, {ticketId} or a bare number. */
export function ticketIdFromPayload(payload) {
  let v = payload;
  if (v && typeof v === 'object') v = 'ticket_id' in v ? v.ticket_id : v.ticketId;
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** The comments to show: the fetched ones plus our own replies Atera doesn't list yet. */
export function mergeLocalReplies(comments, local) {
  const list = Array.isArray(comments) ? comments.slice() : [];
  const norm = (s) => (typeof s === 'string' ? s.replace(/\s+/gu, ' ').trim() : '');
  const seen = new Set(list.filter((c) => c && !c.is_technician).map((c) => norm(c.text)));
  const still = [];
  for (const r of Array.isArray(local) ? local : []) {
    if (seen.has(norm(r.text))) continue; // Atera has it now
    still.push(r);
    list.push(r);
  }
  return { comments: list, pending: still };
}

// ---------------------------------------------------------------------------------------------
// Page wiring
// ---------------------------------------------------------------------------------------------

function timeEl(value, cls, format = 'relative') {
  const d = toDate(value);
  const t = el('time', { class: cls });
  if (!d) return t;
  t.dateTime = d.toISOString();
  t.dataset.ts = String(d.getTime());
  t.dataset.format = format;
  t.title = fullDate(d);
  t.textContent = format === 'message' ? messageTime(d) : relativeTime(d);
  return t;
}

const state = {
  view: 'loading',
  company: '',
  tickets: [],
  loaded: false,
  listToken: 0,
  listScroll: 0,
  retrying: new Set(),       // references with a retry in flight
  retryErrors: new Map(),    // reference -> message
  thread: null,              // {ticketId, data, token, error}
  threadToken: 0,
  drafts: new Map(),         // ticketId -> typed, unsent reply
  localReplies: new Map(),   // ticketId -> [{date, text, from, is_technician, local}]
  sendingFor: null,          // ticketId whose reply is being sent
  replyErrors: new Map(),    // ticketId -> message
  refreshing: false,
  refreshTimer: null,
  openerId: null,            // the card that opened the thread, to focus on the way back
};

// ---- views -----------------------------------------------------------------------------------

function showView(view) {
  if (state.view === 'list' && view !== 'list') state.listScroll = window.scrollY;
  state.view = view;
  showViews(view, { 'loading-view': 'loading', 'load-error-view': 'error', 'list-view': 'list', 'thread-view': 'thread' });
}

// ---- branding --------------------------------------------------------------------------------

// The window's own tints (tickets.css) follow the accent too.
const TICKETS_ACCENT_PROPERTIES = { ...ACCENT_PROPERTIES, '--accent-softer': 'softer', '--accent-border': 'border' };

function applyBranding(data) {
  applyAccent(data.accent_color, TICKETS_ACCENT_PROPERTIES);
  const title = supportTitle(data.company_name);
  state.company = title;
  $('company-name').textContent = title;
  document.title = `My tickets · ${title}`;
}

// ---- the list --------------------------------------------------------------------------------

function statusPill(number, status, id) {
  const kind = statusKind(status);
  const label = statusLabel(number, status || (number ? 'Sent' : ''));
  const pill = el('span', { class: 'status-pill', id, text: label });
  pill.dataset.status = kind;
  return pill;
}

function isOpenable(t) {
  return t && t.state === 'sent' && t.ticket_id !== null && t.ticket_id !== undefined;
}

function ticketCard(t) {
  const id = cardId(t);
  const ref = typeof t.reference === 'string' ? t.reference : '';
  const openable = isOpenable(t);
  const card = openable
    ? el('button', { type: 'button', class: 'ticket-card is-openable', id })
    : el('div', { class: 'ticket-card is-outbox', id });
  card.dataset.reference = ref;
  card.dataset.state = String(t.state || '');
  if (openable) card.dataset.ticketId = String(t.ticket_id);
  card.dataset.status = statusKind(t.status);
  card.dataset.unread = t.unread && t.last_reply ? 'true' : 'false';
  if (t.unread && t.last_reply) card.classList.add('is-unread');

  const top = el('span', { class: 'card-top' },
    el('span', { class: 'card-subject', text: t.subject || '(no subject)' }),
    timeEl(t.created_at, 'card-time'));
  card.append(top);

  const meta = el('span', { class: 'card-meta' });
  card.append(meta);

  if (t.state === 'sent') {
    meta.append(statusPill(t.ticket_number || (t.ticket_id != null ? String(t.ticket_id) : ''), t.status, `${id}-status`));
    if (t.last_reply && typeof t.last_reply === 'object') {
      const reply = el('span', { class: 'card-reply' });
      if (t.unread) {
        reply.append(el('span', { class: 'unread-dot', 'aria-hidden': 'true' }),
          el('span', { class: 'visually-hidden', text: 'New reply. ' }));
      }
      const by = typeof t.last_reply.by === 'string' && t.last_reply.by.trim() ? t.last_reply.by.trim() : 'Your IT team';
      const head = el('span', { class: 'reply-head' },
        el('span', { class: 'reply-by', text: by }));
      if (t.last_reply.at) head.append(el('span', { class: 'reply-sep', text: '·', 'aria-hidden': 'true' }), timeEl(t.last_reply.at, 'reply-time'));
      reply.append(el('span', { class: 'reply-body' }, head,
        el('span', { class: 'reply-text', id: `${id}-reply`, text: excerpt(t.last_reply.text) })));
      card.append(reply);
    } else {
      card.append(el('span', { class: 'card-note', text: isClosed(t.status) ? 'No replies.' : 'No reply yet. We’ll show it here when it comes.' }));
    }
    if (openable) card.append(el('span', { class: 'card-chevron', 'aria-hidden': 'true' }));
    return el('li', { class: 'ticket-item' }, card);
  }

  // Still in the outbox.
  const failed = t.state === 'failed';
  const badge = el('span', { class: 'status-pill', id: `${id}-status`, text: failed ? 'Not sent yet' : 'Waiting to be sent' });
  badge.dataset.status = failed ? 'failed' : 'waiting';
  if (t.state === 'sending') badge.classList.add('is-sending');
  meta.append(badge);
  if (ref) meta.append(el('span', { class: 'card-ref', text: ref, title: 'Reference of this report' }));

  if (failed) {
    const err = typeof t.last_error === 'string' && t.last_error.trim() ? t.last_error.trim() : 'It could not be sent.';
    card.append(el('span', { class: 'card-error', id: `${id}-error`, text: err }));
    const retrying = state.retrying.has(ref);
    const row = el('span', { class: 'card-actions' });
    const btn = el('button', { type: 'button', class: 'btn btn-secondary btn-small retry-btn', id: `${id}-retry` });
    btn.dataset.reference = ref;
    btn.dataset.state = retrying ? 'sending' : 'idle';
    btn.textContent = retrying ? 'Retrying…' : 'Retry';
    btn.setAttribute('aria-describedby', `${id}-error`);
    if (retrying) btn.setAttribute('aria-disabled', 'true');
    row.append(btn);
    const retryErr = state.retryErrors.get(ref);
    if (retryErr) row.append(el('span', { class: 'card-retry-error', role: 'alert', text: retryErr }));
    card.append(row);
  } else {
    card.append(el('span', { class: 'card-note', text: 'Saved on this PC. We’ll send it automatically as soon as we can.' }));
  }
  return el('li', { class: 'ticket-item' }, card);
}

function renderList() {
  const list = $('ticket-list');
  const active = document.activeElement;
  const focusId = active && list.contains(active) ? active.id : null;
  list.replaceChildren(...state.tickets.map(ticketCard));
  $('empty-state').hidden = state.tickets.length > 0;
  list.hidden = state.tickets.length === 0;
  if (focusId) {
    const again = $(focusId);
    if (again) again.focus({ preventScroll: true });
    else if (state.view === 'list') focusFirstCard();
  }
}

function focusFirstCard() {
  const first = $('ticket-list').querySelector('.ticket-card.is-openable, .retry-btn');
  if (first) first.focus();
}

function showBanner(message) {
  const b = $('list-banner');
  b.textContent = message || '';
  b.hidden = !message;
}

async function loadList({ initial = false } = {}) {
  const token = ++state.listToken;
  let data;
  try {
    data = await invoke('my_tickets_list');
  } catch (raw) {
    if (token !== state.listToken) return;
    const err = normalizeError(raw);
    if (!state.loaded) {
      $('load-error-message').textContent = err.message;
      if (state.view !== 'thread') {
        showView('error');
        if (!initial) $('load-error-title').focus();
      }
    } else {
      showBanner(`Couldn’t update the list: ${err.message}`);
    }
    return;
  }
  if (token !== state.listToken) return;
  data = data && typeof data === 'object' ? data : {};
  applyBranding(data);
  state.tickets = Array.isArray(data.tickets) ? data.tickets.filter((t) => t && typeof t === 'object') : [];
  // Forget retry state of entries that are gone or no longer failed.
  for (const ref of Array.from(state.retryErrors.keys())) {
    if (!state.tickets.some((t) => t.reference === ref && t.state === 'failed')) state.retryErrors.delete(ref);
  }
  const first = !state.loaded;
  state.loaded = true;
  showBanner('');
  renderList();
  if (state.view === 'loading' || state.view === 'error') {
    showView('list');
    if (first && !initial) focusFirstCard();
  }
  if (state.thread) renderThreadHead();
  // A notification clicked before this window listened for `open-ticket`: the backend hands the
  // ticket over with the list instead.
  const pendingOpen = ticketIdFromPayload(data.open_ticket);
  if (pendingOpen && !(state.view === 'thread' && state.thread && state.thread.ticketId === pendingOpen)) openThread(pendingOpen);
}

// ---- refresh ---------------------------------------------------------------------------------

function setRefreshing(on) {
  state.refreshing = on;
  const btn = $('refresh-btn');
  btn.dataset.state = on ? 'refreshing' : 'idle';
  btn.setAttribute('aria-busy', on ? 'true' : 'false');
  $('refresh-label').textContent = on ? 'Checking…' : 'Refresh';
  $('refresh-status').textContent = on ? 'Checking for updates…' : '';
  if (!on && state.refreshTimer) { clearTimeout(state.refreshTimer); state.refreshTimer = null; }
}

async function refresh() {
  if (state.refreshing) return;
  setRefreshing(true);
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    if (!state.refreshing) return;
    setRefreshing(false);
    loadList();
    if (state.thread) loadThread({ quiet: true });
  }, REFRESH_TIMEOUT_MS);
  try {
    await invoke('my_tickets_refresh');
  } catch (raw) {
    const err = normalizeError(raw);
    setRefreshing(false);
    if (state.view === 'thread') showThreadError(`Couldn’t check for updates: ${err.message}`, false);
    else showBanner(`Couldn’t check for updates: ${err.message}`);
  }
}

async function onTicketsChanged() {
  const jobs = [loadList()];
  if (state.thread) jobs.push(loadThread({ quiet: true }));
  await Promise.allSettled(jobs);
  if (state.refreshing) setRefreshing(false);
}

// ---- retry -----------------------------------------------------------------------------------

async function retry(reference) {
  if (!reference || state.retrying.has(reference)) return;
  state.retrying.add(reference);
  state.retryErrors.delete(reference);
  renderList();
  try {
    await invoke('my_tickets_retry', { reference });
  } catch (raw) {
    state.retryErrors.set(reference, normalizeError(raw).message);
  } finally {
    state.retrying.delete(reference);
  }
  renderList();
  await loadList();
}

// ---- the thread ------------------------------------------------------------------------------

function listTicket(ticketId) {
  return state.tickets.find((t) => t.ticket_id === ticketId) || null;
}

function threadInfo() {
  const th = state.thread;
  if (!th) return null;
  const fromList = listTicket(th.ticketId) || {};
  const data = th.data || {};
  return {
    subject: data.subject || fromList.subject || `Ticket #${data.ticket_number || fromList.ticket_number || th.ticketId}`,
    number: data.ticket_number || fromList.ticket_number || String(th.ticketId),
    status: data.status !== undefined && data.status !== null ? data.status : (fromList.status ?? null),
    created: fromList.created_at || null,
  };
}

function renderThreadHead() {
  const info = threadInfo();
  if (!info) return;
  $('thread-subject').textContent = info.subject;
  const pill = $('thread-status');
  pill.textContent = statusLabel(info.number, info.status);
  pill.dataset.status = statusKind(info.status);
  const created = $('thread-created');
  const d = toDate(info.created);
  if (d) {
    created.dateTime = d.toISOString();
    created.dataset.ts = String(d.getTime());
    created.dataset.format = 'opened';
    created.title = fullDate(d);
    created.textContent = `Reported ${relativeTime(d)}`;
    created.hidden = false;
  } else {
    created.hidden = true;
  }
  renderReplyArea();
}

function renderReplyArea() {
  const th = state.thread;
  if (!th) return;
  const info = threadInfo();
  const closed = isClosed(info.status);
  const ready = !!th.data;
  const atBottom = ready && nearBottom();
  $('thread-closed').hidden = !(ready && closed);
  const form = $('reply-form');
  const wasHidden = form.hidden;
  form.hidden = !ready || closed;
  if (form.hidden) return;
  const ta = $('reply-text');
  if (wasHidden || ta.dataset.ticketId !== String(th.ticketId)) {
    ta.dataset.ticketId = String(th.ticketId);
    ta.value = state.drafts.get(th.ticketId) || '';
  }
  const sending = state.sendingFor === th.ticketId;
  const btn = $('send-reply-btn');
  btn.disabled = sending;
  btn.dataset.state = sending ? 'sending' : 'idle';
  btn.textContent = sending ? 'Sending…' : 'Send reply';
  ta.readOnly = sending;
  ta.setAttribute('aria-busy', sending ? 'true' : 'false');
  const err = state.replyErrors.get(th.ticketId);
  $('reply-error').textContent = err || '';
  $('reply-error').hidden = !err;
  if (err) ta.setAttribute('aria-invalid', 'true'); else ta.removeAttribute('aria-invalid');
  // The reply box may have grown (an error under it): keep the latest message in view.
  if (atBottom) scrollToBottom();
}

function messageItem(c, i) {
  const tech = !!c.is_technician;
  const from = typeof c.from === 'string' && c.from.trim() ? c.from.trim() : (tech ? 'Your IT team' : 'You');
  const li = el('li', { class: `msg ${tech ? 'msg-tech' : 'msg-you'}`, id: `thread-message-${i}` });
  if (c.local) li.classList.add('is-local');
  if (tech) li.append(el('span', { class: 'msg-avatar', 'aria-hidden': 'true', text: initials(from) }));
  const meta = el('div', { class: 'msg-meta' }, el('span', { class: 'msg-from', text: from }));
  const t = timeEl(c.date, 'msg-time', 'message');
  if (t.dateTime) meta.append(t);
  const bubble = el('div', { class: 'msg-bubble', text: typeof c.text === 'string' ? c.text.trim() : '' });
  li.append(el('div', { class: 'msg-main' }, meta, bubble));
  return li;
}

// The messages scroll inside #thread-body (or, in a very short window, with the page).
function nearBottom() {
  const s = $('thread-body');
  if (s.scrollHeight > s.clientHeight + 1) return s.scrollTop + s.clientHeight >= s.scrollHeight - 80;
  return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80;
}

function scrollToBottom() {
  const s = $('thread-body');
  s.scrollTop = s.scrollHeight;
  if (document.documentElement.scrollHeight > window.innerHeight) window.scrollTo(0, document.documentElement.scrollHeight);
}

function announce(message) {
  const live = $('thread-announce');
  live.textContent = '';
  if (message) setTimeout(() => { live.textContent = message; }, 50);
}

function renderMessages({ stickToBottom = false } = {}) {
  const th = state.thread;
  if (!th) return;
  const ol = $('thread-messages');
  if (!th.data) { ol.replaceChildren(); $('thread-empty').hidden = true; return; }
  const atBottom = nearBottom();
  const techCount = Array.isArray(th.data.comments) ? th.data.comments.filter((c) => c && c.is_technician).length : 0;
  if (th.techCount !== undefined && techCount > th.techCount) {
    const latest = th.data.comments.filter((c) => c && c.is_technician).pop();
    announce(`New reply from ${latest && latest.from ? latest.from : 'your IT team'}.`);
  }
  th.techCount = techCount;
  const local = state.localReplies.get(th.ticketId) || [];
  const merged = mergeLocalReplies(th.data.comments, local);
  if (merged.pending.length) state.localReplies.set(th.ticketId, merged.pending);
  else state.localReplies.delete(th.ticketId);
  ol.replaceChildren(...merged.comments.filter((c) => c && typeof c === 'object').map(messageItem));
  $('thread-empty').hidden = merged.comments.length > 0;
  if (stickToBottom || atBottom) scrollToBottom();
}

function showThreadError(message, withRetry = true) {
  $('thread-error-message').textContent = message || '';
  $('thread-retry-btn').hidden = !withRetry;
  $('thread-error').hidden = !message;
}

async function loadThread({ quiet = false, first = false } = {}) {
  const th = state.thread;
  if (!th) return;
  const token = ++state.threadToken;
  if (!quiet) {
    $('thread-loading').hidden = false;
    showThreadError('');
  }
  let data;
  try {
    data = await invoke('my_tickets_thread', { ticketId: th.ticketId });
  } catch (raw) {
    if (token !== state.threadToken || state.thread !== th) return;
    $('thread-loading').hidden = true;
    const err = normalizeError(raw);
    if (!th.data) showThreadError(`We couldn’t load this conversation. ${err.message}`);
    return;
  }
  if (token !== state.threadToken || state.thread !== th) return;
  $('thread-loading').hidden = true;
  showThreadError('');
  th.data = data && typeof data === 'object' ? data : { comments: [] };
  // The backend marks it read when it's opened.
  const t = listTicket(th.ticketId);
  if (t && t.unread) { t.unread = false; renderList(); }
  renderThreadHead();
  renderMessages({ stickToBottom: first });
}

function openThread(ticketId, { openerId = null } = {}) {
  if (!Number.isSafeInteger(ticketId)) return;
  saveDraft();
  if (state.thread && state.thread.ticketId === ticketId && state.view === 'thread') {
    loadThread({ quiet: true });
    return;
  }
  state.openerId = openerId || (listTicket(ticketId) ? cardId(listTicket(ticketId)) : null);
  state.thread = { ticketId, data: null };
  state.threadToken += 1;
  $('thread-messages').replaceChildren();
  $('thread-announce').textContent = '';
  $('thread-body').scrollTop = 0;
  $('thread-empty').hidden = true;
  showThreadError('');
  $('reply-text').dataset.ticketId = '';
  renderThreadHead();
  showView('thread');
  window.scrollTo(0, 0);
  $('thread-subject').focus({ preventScroll: true });
  loadThread({ first: true });
}

function saveDraft() {
  const th = state.thread;
  const ta = $('reply-text');
  if (!th || ta.dataset.ticketId !== String(th.ticketId)) return;
  if (ta.value) state.drafts.set(th.ticketId, ta.value); else state.drafts.delete(th.ticketId);
}

function backToList() {
  if (state.view !== 'thread') return;
  saveDraft();
  state.thread = null;
  state.threadToken += 1;
  showView(state.loaded ? 'list' : ($('load-error-message').textContent ? 'error' : 'loading'));
  if (!state.loaded) loadList();
  window.scrollTo(0, state.listScroll || 0);
  const opener = state.openerId ? $(state.openerId) : null;
  if (opener) opener.focus({ preventScroll: true });
  else focusFirstCard();
  state.openerId = null;
}

// ---- replying --------------------------------------------------------------------------------

function replyErrorMessage(err) {
  if (err.kind === 'invalid') return err.message && err.message !== 'Something went wrong inside the app.' ? err.message : 'Write your reply first.';
  return `Not sent: ${err.message} Your reply is still here; try again in a moment.`;
}

async function sendReply() {
  const th = state.thread;
  if (!th || !th.data || state.sendingFor !== null) return;
  const ticketId = th.ticketId;
  const ta = $('reply-text');
  const text = ta.value.trim();
  if (!text) {
    state.replyErrors.set(ticketId, 'Write your reply first.');
    renderReplyArea();
    ta.focus();
    return;
  }
  state.replyErrors.delete(ticketId);
  saveDraft();
  state.sendingFor = ticketId;
  renderReplyArea();
  let failure = null;
  try {
    const r = await invoke('my_tickets_reply', { ticketId, text });
    if (r && typeof r === 'object' && r.ok === false) failure = normalizeError(r);
  } catch (raw) {
    failure = normalizeError(raw);
  }
  state.sendingFor = null;
  const current = state.thread && state.thread.ticketId === ticketId;
  if (failure) {
    state.replyErrors.set(ticketId, replyErrorMessage(failure));
    if (current) { renderReplyArea(); ta.focus(); }
    return;
  }
  const mine = { date: new Date().toISOString(), text, from: 'You', is_technician: false, local: true };
  state.localReplies.set(ticketId, [...(state.localReplies.get(ticketId) || []), mine]);
  // Drop the draft unless it was changed while sending.
  if ((state.drafts.get(ticketId) || '').trim() === text) state.drafts.delete(ticketId);
  if (current) {
    if (ta.value.trim() === text) ta.value = '';
    renderReplyArea();
    renderMessages({ stickToBottom: true });
    announce('Reply sent.');
    ta.focus({ preventScroll: true });
  }
}

// ---- relative times tick ---------------------------------------------------------------------

function updateTimes() {
  document.querySelectorAll('time[data-ts]').forEach((t) => {
    const ts = Number(t.dataset.ts);
    if (!Number.isFinite(ts)) return;
    if (t.dataset.format === 'message') t.textContent = messageTime(ts);
    else if (t.dataset.format === 'opened') t.textContent = `Reported ${relativeTime(ts)}`;
    else t.textContent = relativeTime(ts);
  });
}

// ---- events ----------------------------------------------------------------------------------

function wireEvents() {
  $('ticket-list').addEventListener('click', (e) => {
    const retryBtn = e.target.closest('.retry-btn');
    if (retryBtn) { retry(retryBtn.dataset.reference); return; }
    const card = e.target.closest('.ticket-card.is-openable');
    if (card) openThread(Number(card.dataset.ticketId), { openerId: card.id });
  });
  // Up/Down move between the cards, like a list.
  $('ticket-list').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const items = Array.from($('ticket-list').querySelectorAll('.ticket-card.is-openable, .retry-btn'));
    const i = items.indexOf(document.activeElement);
    if (i < 0) return;
    const next = items[i + (e.key === 'ArrowDown' ? 1 : -1)];
    if (next) { e.preventDefault(); next.focus(); }
  });
  $('refresh-btn').addEventListener('click', () => refresh());
  $('load-retry-btn').addEventListener('click', () => { showView('loading'); loadList(); });
  $('back-btn').addEventListener('click', () => backToList());
  $('thread-retry-btn').addEventListener('click', () => loadThread());
  $('reply-form').addEventListener('submit', (e) => { e.preventDefault(); sendReply(); });
  $('reply-text').addEventListener('input', () => {
    saveDraft();
    const th = state.thread;
    if (th && state.replyErrors.has(th.ticketId) && $('reply-text').value.trim()) {
      state.replyErrors.delete(th.ticketId);
      renderReplyArea();
    }
  });

  document.addEventListener('keydown', (e) => {
    if (isComposing(e)) return;
    if (isModChord(e, 'Enter')) {
      if (state.view === 'thread' && !$('reply-form').hidden) {
        e.preventDefault();
        sendReply();
      }
      return;
    }
    if (isEscape(e) && !e.defaultPrevented) {
      if (state.view === 'thread') {
        e.preventDefault();
        backToList();
      }
      // From the list: nothing.
    }
  });

  setInterval(updateTimes, 30 * 1000);
  if (isMac()) $('reply-mod-key').textContent = '⌘';
}

async function start() {
  if (!startPage(wireEvents, 'This window has to be opened by the Helpdesk Button app.')) return;
  await Promise.all([
    listen('tickets-changed', () => { onTicketsChanged(); }),
    listen('open-ticket', (event) => {
      const id = ticketIdFromPayload(event && typeof event === 'object' && 'payload' in event ? event.payload : event);
      if (id) openThread(id);
    }),
  ]);
  const fromUrl = ticketIdFromPayload(new URLSearchParams(window.location.search).get('ticket'));
  const listed = loadList({ initial: true });
  if (fromUrl) openThread(fromUrl);
  await listed;
}

whenReady(start);
