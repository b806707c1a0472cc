// Helpdesk Button: the ticket form.
//
// Plain ES module, no build step. Runs inside the Tauri webview under a strict CSP
// (no inline scripts or styles): every dynamic style goes through classes or CSSOM, and every
// piece of text coming from the user, the backend or the inventory is set with textContent.
//
// The pure helpers at the top (deriveSubject, isValidEmail, validateForm, normalizeAccent, ...)
// are exported so tests can import them; the page wiring below only runs in a browser. Helpers
// shared with the other windows live in common.js (and are re-exported here).

import {
  $, el, showViews, showImage, whenReady, startPage, invoke, listen, normalizeError,
  isMac, isComposing, isModChord, isEscape, isValidEmail, isImageDataUrl, applyAccent, supportTitle,
} from './common.js';

export { isValidEmail, isImageDataUrl, normalizeError, normalizeAccent, accentPalette, contrastRatio } from './common.js';

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for tests)
// ---------------------------------------------------------------------------------------------

export const SUBJECT_MAX = 50;
export const DESCRIPTION_MIN = 5;
export const DRAFT_DEBOUNCE_MS = 400;

/**
 * The subject derived from a description: the first non-empty line, whitespace collapsed, at
 * most SUBJECT_MAX characters (code points), cut at a word boundary so no partial word is left at
 * the end. When the first word alone is longer than the limit it is hard-cut at the limit.
 */
export function deriveSubject(description, max = SUBJECT_MAX) {
  if (typeof description !== 'string') return '';
  const lines = description.split(/\r\n|\r|\n/);
  let line = '';
  for (const l of lines) {
    const collapsed = l.replace(/\s+/gu, ' ').trim();
    if (collapsed) { line = collapsed; break; }
  }
  const chars = Array.from(line);
  if (chars.length <= max) return line;
  // The character just past the limit: a space there means the cut falls on a word boundary.
  if (chars[max] === ' ') return chars.slice(0, max).join('').trimEnd();
  const head = chars.slice(0, max).join('');
  const lastSpace = head.lastIndexOf(' ');
  if (lastSpace > 0) return head.slice(0, lastSpace).trimEnd();
  return head; // one very long first word: hard cut
}

export const MESSAGES = {
  nameMissing: 'Enter your name so we know who to help.',
  emailMissing: 'Enter your email address so we can reply, like name@company.com.',
  emailShape: 'Check your email address: it should look like name@company.com.',
  phoneMissing: 'Enter a phone number so we can call you back.',
  descriptionMissing: 'Describe the problem so we can help: what were you doing, and what went wrong?',
  descriptionShort: `Tell us a little more: write at least ${DESCRIPTION_MIN} characters about what went wrong.`,
};

/**
 * Client-side validation. `values` has name/email/phone/description (strings), `required` the
 * backend's required flags. Returns an ordered object {field: message} (empty when all is well).
 */
export function validateForm(values, required = {}) {
  const errors = {};
  const v = (k) => (typeof values[k] === 'string' ? values[k].trim() : '');
  const req = { name: true, email: true, phone: false, description: true, ...required };

  if (req.name && !v('name')) errors.name = MESSAGES.nameMissing;

  if (!v('email')) {
    if (req.email) errors.email = MESSAGES.emailMissing;
  } else if (!isValidEmail(v('email'))) {
    errors.email = MESSAGES.emailShape;
  }

  if (req.phone && !v('phone')) errors.phone = MESSAGES.phoneMissing;

  const desc = v('description');
  if (!desc) {
    if (req.description) errors.description = MESSAGES.descriptionMissing;
  } else if (req.description && Array.from(desc).length < DESCRIPTION_MIN) {
    errors.description = MESSAGES.descriptionShort;
  }
  return errors;
}

/** "HDMI-1 · 1920×1080 · primary" */
export function screenshotCaption(shot) {
  const parts = [String(shot.monitor || `Screen ${Number(shot.id) + 1}`)];
  if (shot.width && shot.height) parts.push(`${shot.width}×${shot.height}`);
  if (shot.primary) parts.push('primary');
  return parts.join(' · ');
}

// ---------------------------------------------------------------------------------------------
// Page wiring
// ---------------------------------------------------------------------------------------------

const FIELD_IDS = ['name', 'email', 'phone', 'description', 'subject', 'priority', 'type', 'impact'];
const FIELD_LABELS = {
  name: 'Your name', email: 'Email', phone: 'Phone', description: 'Description',
  subject: 'Subject', priority: 'Priority', type: 'Type', impact: 'Impact',
  selections: 'Your answers', included_screenshots: 'Screenshots',
};
const INVENTORY_RETRY_MS = [2500, 6000, 12000];

const state = {
  formState: null,          // last get_form_state result
  required: { name: true, email: true, phone: false, description: true },
  subjectEdited: false,
  screenshots: [],
  view: 'loading',
  ready: false,             // fields rendered from a state: drafts may be saved
  sending: false,
  draftTimer: null,
  lastForm: null,           // form object of the last submit (for "Try again")
  paintedSessions: new Set(),
  pendingInventory: null,   // inventory-ready that arrived before get_form_state answered
  inventoryTimers: [],
  dialogOpener: null,
  dialogToken: 0,
  support: { phone: null, email: null, url: null },
};

// ---- views -----------------------------------------------------------------------------------

function showView(view) {
  state.view = view;
  showViews(view, { 'loading-view': 'loading', 'form-view': 'form', 'success-view': 'success', 'error-view': 'error' });
  window.scrollTo(0, 0);
}

// ---- branding --------------------------------------------------------------------------------

function applyBranding(fs) {
  applyAccent(fs.accent_color);
  const title = supportTitle(fs.company_name);
  $('company-title').textContent = title;
  document.title = title;
  showImage($('company-logo'), isImageDataUrl(fs.logo_data_url) ? fs.logo_data_url : null);
  state.support = fs.support && typeof fs.support === 'object' ? fs.support : { phone: null, email: null, url: null };
}

function renderSupport(listId, boxId) {
  const list = $(listId);
  list.replaceChildren();
  const s = state.support || {};
  const str = (x) => (typeof x === 'string' ? x.trim() : '');
  if (str(s.phone)) {
    const tel = str(s.phone).replace(/[^0-9+]/g, '');
    list.append(el('li', {}, el('span', { class: 'support-kind', text: 'Phone' }),
      el('a', { href: `tel:${tel}`, target: '_blank', rel: 'noopener noreferrer', text: str(s.phone) })));
  }
  if (str(s.email)) {
    list.append(el('li', {}, el('span', { class: 'support-kind', text: 'Email' }),
      el('a', { href: `mailto:${str(s.email)}`, target: '_blank', rel: 'noopener noreferrer', text: str(s.email) })));
  }
  if (str(s.url) && /^https?:\/\//i.test(str(s.url))) {
    list.append(el('li', {}, el('span', { class: 'support-kind', text: 'Web' }),
      el('a', { href: str(s.url), target: '_blank', rel: 'noopener noreferrer', text: str(s.url).replace(/^https?:\/\//i, '').replace(/\/$/, '') })));
  }
  $(boxId).hidden = list.childElementCount === 0;
}

// ---- building the static parts of the form from the state ------------------------------------

function setLabel(id, base, isRequired) {
  $(`${id}-label`).textContent = isRequired ? base : `${base} (optional)`;
  const input = $(id);
  input.required = !!isRequired;
  if (isRequired) input.setAttribute('aria-required', 'true'); else input.removeAttribute('aria-required');
}

function buildChoices(fs) {
  // Checkboxes
  const checkList = $('checkbox-list');
  checkList.replaceChildren();
  const boxes = Array.isArray(fs.checkboxes) ? fs.checkboxes.filter((x) => typeof x === 'string') : [];
  boxes.forEach((label, i) => {
    const id = `selection-check-${i}`;
    const input = el('input', { type: 'checkbox', id, name: 'selection-check', value: label });
    input.dataset.label = label;
    checkList.append(el('label', { class: 'check', for: id }, input, el('span', { class: 'check-text', text: label })));
  });
  $('checkbox-group').hidden = boxes.length === 0;

  // Radio groups
  const groups = $('radio-groups');
  groups.replaceChildren();
  const rg = Array.isArray(fs.radio_groups) ? fs.radio_groups : [];
  rg.forEach((group, g) => {
    if (!group || !Array.isArray(group.options)) return;
    const fieldset = el('fieldset', { class: 'group radio-group', id: `radio-group-${g}` });
    fieldset.append(el('legend', { text: String(group.label || '') }));
    const row = el('div', { class: 'chips' });
    group.options.forEach((opt, o) => {
      const id = `radio-${g}-${o}`;
      const input = el('input', { type: 'radio', id, name: `radio-group-${g}`, value: String(opt) });
      input.dataset.label = String(opt);
      row.append(el('label', { class: 'chip', for: id }, input, el('span', { class: 'chip-text', text: String(opt) })));
    });
    fieldset.append(row);
    groups.append(fieldset);
  });

  // Selects
  for (const key of ['priority', 'type', 'impact']) {
    const select = $(key);
    select.replaceChildren();
    const opts = fs.choices && Array.isArray(fs.choices[key]) ? fs.choices[key] : [];
    for (const o of opts) {
      if (!o) continue;
      const value = String(o.value ?? '');
      select.append(el('option', { value, text: String(o.label ?? value) }));
    }
    select.closest('.field').hidden = opts.length === 0;
  }
  $('ticket-details').hidden = ['priority', 'type', 'impact'].every((k) => $(k).options.length === 0);
}

function setSelect(key, value) {
  const select = $(key);
  const values = Array.from(select.options).map((o) => o.value);
  const def = state.formState && state.formState.defaults ? state.formState.defaults[key] : undefined;
  if (typeof value === 'string' && values.includes(value)) select.value = value;
  else if (typeof def === 'string' && values.includes(def)) select.value = def;
  else if (values.length) select.value = values[0];
}

// ---- reading / writing the fields --------------------------------------------------------------

function selections() {
  const out = [];
  document.querySelectorAll('#checkbox-list input[type=checkbox]').forEach((c) => { if (c.checked) out.push(c.dataset.label); });
  document.querySelectorAll('#radio-groups fieldset').forEach((fs) => {
    const chosen = fs.querySelector('input[type=radio]:checked');
    if (chosen) out.push(chosen.dataset.label);
  });
  return out;
}

function applySelections(list) {
  const wanted = new Set(Array.isArray(list) ? list : []);
  document.querySelectorAll('#checkbox-list input[type=checkbox]').forEach((c) => { c.checked = wanted.has(c.dataset.label); });
  document.querySelectorAll('#radio-groups fieldset').forEach((fs) => {
    let done = false;
    fs.querySelectorAll('input[type=radio]').forEach((r) => {
      r.checked = !done && wanted.has(r.dataset.label);
      if (r.checked) done = true;
    });
  });
}

function includedScreenshots() {
  return state.screenshots
    .filter((s) => { const c = $(`screenshot-include-${s.id}`); return c ? c.checked : false; })
    .map((s) => s.id);
}

function excludedScreenshots() {
  return state.screenshots
    .filter((s) => { const c = $(`screenshot-include-${s.id}`); return c ? !c.checked : false; })
    .map((s) => s.id);
}

function currentSubject() {
  const typed = $('subject').value.trim();
  return typed || deriveSubject($('description').value);
}

/** The `form` object of the submit_ticket contract. */
export function collectForm() {
  return {
    name: $('name').value.trim(),
    email: $('email').value.trim(),
    phone: $('phone').value.trim(),
    subject: currentSubject(),
    description: $('description').value.trim(),
    selections: selections(),
    priority: $('priority').value,
    type: $('type').value,
    impact: $('impact').value,
    included_screenshots: includedScreenshots(),
  };
}

function collectDraft() {
  return {
    ...collectForm(),
    subject: $('subject').value,
    description: $('description').value,
    subject_edited: state.subjectEdited,
    excluded_screenshots: excludedScreenshots(),
  };
}

/**
 * Keep the subject in step with the description while it is in derived mode. `fill` false leaves
 * the field's value alone (the user just emptied it and may be typing a new one): the derived
 * subject then shows as the placeholder and is filled in on blur.
 */
function updateDerivedSubject(fill = true) {
  const derived = deriveSubject($('description').value);
  const subject = $('subject');
  subject.placeholder = derived || 'A short summary, filled in from your description';
  if (!state.subjectEdited && fill) subject.value = derived;
  $('field-subject').classList.toggle('is-derived', !state.subjectEdited);
}

/** The user typed in (or cleared) the subject: an empty subject goes back to derived mode. */
function onSubjectEdited() {
  const subject = $('subject');
  const edited = subject.value.trim() !== '';
  if (edited === state.subjectEdited) return;
  state.subjectEdited = edited;
  updateDerivedSubject(false);
}

function fillFields(fs, { keepContact = false, useDraft = true } = {}) {
  const draft = useDraft && fs.draft && typeof fs.draft === 'object' ? fs.draft : null;
  const prefill = fs.prefill && typeof fs.prefill === 'object' ? fs.prefill : {};
  const str = (x) => (typeof x === 'string' ? x : '');
  const pick = (k) => (draft && typeof draft[k] === 'string' ? draft[k] : str(prefill[k]));

  if (!keepContact) {
    $('name').value = pick('name');
    $('email').value = pick('email');
    $('phone').value = pick('phone');
  }
  $('description').value = draft ? str(draft.description) : '';
  state.subjectEdited = !!(draft && draft.subject_edited && str(draft.subject).trim());
  $('subject').value = state.subjectEdited ? str(draft.subject) : '';
  updateDerivedSubject();
  applySelections(draft ? draft.selections : []);
  for (const key of ['priority', 'type', 'impact']) setSelect(key, draft ? draft[key] : undefined);
  return draft;
}

// ---- screenshots -----------------------------------------------------------------------------

function renderScreenshots(fs, excluded = []) {
  const list = $('screenshot-list');
  list.replaceChildren();
  const shots = Array.isArray(fs.screenshots) ? fs.screenshots.filter((s) => s && s.id !== undefined && s.id !== null) : [];
  state.screenshots = shots;
  const skip = new Set(Array.isArray(excluded) ? excluded : []);

  for (const shot of shots) {
    const caption = screenshotCaption(shot);
    const includeId = `screenshot-include-${shot.id}`;
    const card = el('li', { class: 'shot', id: `screenshot-card-${shot.id}` });
    card.dataset.screenshotId = String(shot.id);

    const frame = el('div', { class: 'shot-frame' });
    if (isImageDataUrl(shot.thumbnail)) {
      const img = el('img', { class: 'shot-img', alt: `Screenshot of ${caption}`, id: `screenshot-thumb-${shot.id}`, decoding: 'async' });
      img.src = shot.thumbnail;
      frame.append(img);
    } else {
      frame.append(el('span', { class: 'shot-missing', text: 'No preview' }));
    }
    card.append(frame);

    const meta = el('div', { class: 'shot-meta' });
    meta.append(el('p', { class: 'shot-caption', id: `screenshot-caption-${shot.id}`, text: caption }));
    const include = el('input', { type: 'checkbox', id: includeId, class: 'shot-include' });
    // The admin's policy may require every monitor to be sent.
    const mayExclude = fs.allow_exclude !== false;
    include.checked = !mayExclude || !skip.has(shot.id);
    include.disabled = !mayExclude;
    include.setAttribute('aria-describedby', `screenshot-caption-${shot.id}`);
    const includeLabel = el('label', { class: 'check check-small', for: includeId }, include, el('span', { class: 'check-text', text: 'Include' }));
    const view = el('button', { type: 'button', class: 'btn btn-link', id: `screenshot-view-${shot.id}`, text: 'View larger' });
    view.setAttribute('aria-label', `View larger: ${caption}`);
    view.addEventListener('click', () => openScreenshot(shot, view));
    meta.append(el('div', { class: 'shot-actions' }, includeLabel, view));
    card.append(meta);
    card.classList.toggle('is-excluded', !include.checked);
    include.addEventListener('change', () => card.classList.toggle('is-excluded', !include.checked));
    list.append(card);
  }
  list.hidden = shots.length === 0;

  const status = $('capture-status');
  const captureError = typeof fs.capture_error === 'string' ? fs.capture_error.trim() : '';
  if (shots.length === 0) {
    status.textContent = captureError
      ? `We couldn't take a picture of your screens: ${captureError} You can still send the ticket.`
      : 'No screenshots this time. You can still send the ticket.';
    status.hidden = false;
    status.classList.toggle('is-warning', !!captureError);
  } else if (captureError) {
    status.textContent = `Some screens could not be captured: ${captureError}`;
    status.hidden = false;
    status.classList.add('is-warning');
  } else {
    status.textContent = '';
    status.hidden = true;
  }
  $('screenshots-hint').hidden = shots.length === 0;
}

async function openScreenshot(shot, opener) {
  const dialog = $('screenshot-dialog');
  const img = $('screenshot-dialog-image');
  const status = $('screenshot-dialog-status');
  const caption = screenshotCaption(shot);
  const token = ++state.dialogToken;
  state.dialogOpener = opener || null;
  $('screenshot-dialog-title').textContent = caption;
  img.alt = `Screenshot of ${caption}`;
  showImage(img, isImageDataUrl(shot.thumbnail) ? shot.thumbnail : null);
  status.textContent = 'Loading the full picture…';
  status.hidden = false;
  if (!dialog.open) {
    if (typeof dialog.showModal === 'function') dialog.showModal(); else dialog.setAttribute('open', '');
  }
  $('screenshot-dialog-close').focus();
  try {
    const url = await invoke('get_screenshot', { id: shot.id });
    if (token !== state.dialogToken) return;
    if (isImageDataUrl(url)) { showImage(img, url); status.textContent = ''; status.hidden = true; } else {
      status.textContent = 'The larger picture is not available. This is the preview.';
    }
  } catch (e) {
    if (token !== state.dialogToken) return;
    status.textContent = `The larger picture could not be loaded (${normalizeError(e).message}). This is the preview.`;
  }
}

function closeScreenshot() {
  const dialog = $('screenshot-dialog');
  if (dialog.open) {
    if (typeof dialog.close === 'function') dialog.close(); else dialog.removeAttribute('open');
  }
}

// ---- inventory -------------------------------------------------------------------------------

function renderInventory(inv) {
  const body = $('inventory-body');
  const count = $('inventory-count');
  body.replaceChildren();
  body.setAttribute('aria-busy', inv ? 'false' : 'true');
  if (!inv || !Array.isArray(inv.sections)) {
    body.append(el('p', { id: 'inventory-loading', class: 'inventory-loading', text: 'Collecting…' }));
    count.textContent = '';
    $('inventory').dataset.state = 'collecting';
    return;
  }
  let rows = 0;
  for (const section of inv.sections) {
    if (!section) continue;
    const wrap = el('section', { class: 'inv-section' });
    wrap.append(el('h3', { class: 'inv-title', text: String(section.title ?? '') }));
    const table = el('table', { class: 'inv-table' });
    const tbody = el('tbody');
    for (const row of Array.isArray(section.rows) ? section.rows : []) {
      if (!Array.isArray(row)) continue;
      tbody.append(el('tr', {}, el('th', { scope: 'row', text: String(row[0] ?? '') }), el('td', { text: String(row[1] ?? '') })));
      rows += 1;
    }
    table.append(tbody);
    wrap.append(table);
    body.append(wrap);
  }
  if (!body.childElementCount) body.append(el('p', { class: 'inventory-loading', text: 'Nothing was collected.' }));
  count.textContent = rows ? `(${rows} facts about this PC)` : '';
  $('inventory').dataset.state = 'ready';
}

function setInventory(inv) {
  if (!inv) return;
  state.pendingInventory = inv;
  if (state.formState) state.formState.inventory = inv;
  for (const t of state.inventoryTimers) clearTimeout(t);
  state.inventoryTimers = [];
  renderInventory(inv);
}

/** Fallback in case inventory-ready fired before we listened: ask again a few times. */
function scheduleInventoryRetries() {
  for (const t of state.inventoryTimers) clearTimeout(t);
  state.inventoryTimers = INVENTORY_RETRY_MS.map((ms) => setTimeout(async () => {
    if (state.formState && state.formState.inventory) return;
    try {
      const fs = await invoke('get_form_state');
      if (fs && fs.inventory) setInventory(fs.inventory);
    } catch { /* the event may still come */ }
  }, ms));
}

// ---- errors ----------------------------------------------------------------------------------

function errorTarget(field) {
  if (FIELD_IDS.includes(field)) return $(field);
  if (field === 'selections') return document.querySelector('#checkbox-list input, #radio-groups input');
  if (field === 'included_screenshots') return document.querySelector('.shot-include');
  return null;
}

function clearFieldError(field) {
  const msg = $(`${field}-error`);
  if (msg) { msg.textContent = ''; msg.hidden = true; }
  const input = FIELD_IDS.includes(field) ? $(field) : null;
  if (input) input.removeAttribute('aria-invalid');
  const wrap = input && input.closest('.field');
  if (wrap) wrap.classList.remove('has-error');
}

function clearErrors() {
  for (const f of [...FIELD_IDS, 'selections', 'included_screenshots']) clearFieldError(f);
  const summary = $('error-summary');
  summary.hidden = true;
  summary.classList.remove('is-blocked');
  $('error-summary-title').textContent = '';
  $('error-summary-list').replaceChildren();
}

/**
 * Show field errors inline (and in the summary). Returns the element to focus.
 * `fields` maps field names to messages; `title` heads the summary.
 */
function showErrors(fields, title) {
  clearErrors();
  const list = $('error-summary-list');
  let first = null;
  const order = [...FIELD_IDS, 'selections', 'included_screenshots'];
  const keys = Object.keys(fields).sort((a, b) => {
    const ia = order.indexOf(a); const ib = order.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  });
  for (const field of keys) {
    const message = String(fields[field] ?? '');
    if (!message) continue;
    const msgEl = $(`${field}-error`);
    const target = errorTarget(field);
    if (msgEl) { msgEl.textContent = message; msgEl.hidden = false; }
    if (FIELD_IDS.includes(field)) {
      const input = $(field);
      input.setAttribute('aria-invalid', 'true');
      const wrap = input.closest('.field');
      if (wrap) wrap.classList.add('has-error');
    }
    const label = FIELD_LABELS[field] || field;
    const item = el('li');
    if (target) {
      const link = el('a', { href: `#${target.id}`, class: 'summary-link', text: `${label}: ${message}` });
      link.addEventListener('click', (e) => { e.preventDefault(); target.focus(); });
      item.append(link);
    } else {
      item.textContent = `${label}: ${message}`;
    }
    list.append(item);
    if (!first && target) first = target;
  }
  $('error-summary-title').textContent = title;
  $('error-summary').hidden = false;
  return first;
}

function showBlocked(message) {
  clearErrors();
  const summary = $('error-summary');
  summary.classList.add('is-blocked');
  $('error-summary-title').textContent = message;
  summary.hidden = false;
  summary.focus();
}

// ---- drafts ----------------------------------------------------------------------------------

function cancelDraftSave() {
  if (state.draftTimer) { clearTimeout(state.draftTimer); state.draftTimer = null; }
}

function scheduleDraftSave() {
  if (!state.ready || state.view === 'success') return;
  cancelDraftSave();
  state.draftTimer = setTimeout(() => { state.draftTimer = null; saveDraftNow(); }, DRAFT_DEBOUNCE_MS);
}

function saveDraftNow() {
  cancelDraftSave();
  if (!state.ready || state.view === 'success' || state.sending) return Promise.resolve();
  return invoke('save_draft', { draft: collectDraft() }).catch(() => { /* best effort */ });
}

function flushDraft() {
  // Only when something is pending: an unchanged form needs no write.
  if (state.draftTimer) saveDraftNow();
}

// ---- submitting ------------------------------------------------------------------------------

function setSending(on, button) {
  state.sending = on;
  const submit = $('submit-btn');
  const retry = $('error-retry-btn');
  submit.disabled = on;
  submit.dataset.state = on ? 'sending' : 'idle';
  submit.textContent = on ? 'Sending…' : 'Send ticket';
  submit.setAttribute('aria-busy', on ? 'true' : 'false');
  retry.disabled = on;
  retry.textContent = on && button === retry ? 'Sending…' : 'Try again';
  $('ticket-form').classList.toggle('is-sending', on);
}

async function submit() {
  if (state.sending || state.view !== 'form') return;
  const form = collectForm();
  const errors = validateForm(form, state.required);
  if (Object.keys(errors).length) {
    const n = Object.keys(errors).length;
    const first = showErrors(errors, n === 1 ? 'Please fix one thing before sending:' : `Please fix ${n} things before sending:`);
    if (first) first.focus();
    return;
  }
  clearErrors();
  await send(form, $('submit-btn'));
}

async function send(form, button) {
  state.lastForm = form;
  cancelDraftSave();
  setSending(true, button);
  let result;
  try {
    result = await invoke('submit_ticket', { form });
  } catch (raw) {
    setSending(false);
    handleSubmitError(normalizeError(raw));
    return;
  }
  setSending(false);
  showSuccess(result || {});
}

function handleSubmitError(err) {
  if (err.kind === 'invalid') {
    showView('form');
    const n = Object.keys(err.fields).length;
    const title = err.message || (n === 1 ? 'Please fix one thing before sending:' : `Please fix ${n} things before sending:`);
    const first = showErrors(err.fields, title);
    (first || $('error-summary')).focus();
    scheduleDraftSave();
    return;
  }
  if (err.kind === 'blocked') {
    showView('form');
    showBlocked(err.message);
    scheduleDraftSave();
    return;
  }
  $('error-message').textContent = err.message;
  $('error-view').dataset.kind = err.kind;
  renderSupport('error-support-list', 'error-support');
  showView('error');
  $('error-title').focus();
  scheduleDraftSave();
}

function showSuccess(result) {
  const queued = result.outcome === 'queued';
  const title = $('success-title');
  const ref = $('success-reference');
  if (queued) {
    title.textContent = "Saved — we'll send it as soon as we can";
    title.dataset.ticketNumber = '';
    const reference = typeof result.reference === 'string' ? result.reference : '';
    ref.textContent = reference ? `Reference: ${reference}` : '';
    ref.dataset.reference = reference;
    ref.hidden = !reference;
  } else {
    const number = result.ticket_number ?? result.ticket_id;
    const hasNumber = number !== undefined && number !== null && String(number) !== '';
    title.textContent = hasNumber ? `Ticket #${number} sent` : 'Ticket sent';
    title.dataset.ticketNumber = hasNumber ? String(number) : '';
    ref.textContent = '';
    ref.hidden = true;
  }
  $('success-view').dataset.outcome = queued ? 'queued' : 'sent';
  $('success-icon').classList.toggle('is-queued', queued);
  const message = typeof result.message === 'string' ? result.message : '';
  $('success-message').textContent = message;
  $('success-message').hidden = !message;
  renderSupport('success-support-list', 'success-support');
  showView('success');
  title.focus();
}

async function closeForm() {
  if (state.view === 'form' || state.view === 'error') {
    if (state.draftTimer) await saveDraftNow();
  }
  try { await invoke('close_form'); } catch { /* nothing to do */ }
}

async function newTicket() {
  const btn = $('new-ticket-btn');
  btn.disabled = true;
  try {
    let fs;
    try { fs = await invoke('get_form_state'); } catch { fs = state.formState; }
    renderState(fs, { keepContact: true, useDraft: false });
    clearErrors();
    showView('form');
    $('description').focus();
  } finally {
    btn.disabled = false;
  }
}

// ---- rendering a whole state -------------------------------------------------------------------

/**
 * Reports the first paint of a session's content: the animation-frame callback runs before the
 * frame that holds the content is painted, and a task it queues runs once that paint is done.
 */
function markPainted(sessionId) {
  if (sessionId === undefined || sessionId === null || state.paintedSessions.has(sessionId)) return;
  state.paintedSessions.add(sessionId);
  requestAnimationFrame(() => setTimeout(() => {
    invoke('form_painted', { sessionId }).catch(() => {});
  }, 0));
}

function renderState(fs, { keepContact = false, useDraft = true } = {}) {
  state.formState = fs;
  if (!fs.inventory && state.pendingInventory) fs.inventory = state.pendingInventory;
  state.required = { name: true, email: true, phone: false, description: true, ...(fs.required || {}) };
  applyBranding(fs);
  setLabel('name', 'Your name', state.required.name);
  setLabel('email', 'Email', state.required.email);
  setLabel('phone', 'Phone', state.required.phone);
  setLabel('description', "What's the problem?", state.required.description);
  buildChoices(fs);
  const draft = fillFields(fs, { keepContact, useDraft });
  renderScreenshots(fs, draft ? draft.excluded_screenshots : []);
  renderInventory(fs.inventory);
  if (!fs.inventory) scheduleInventoryRetries();
  state.ready = true;
}

/** Re-capture (hotkey pressed again): new screenshots and inventory, typed fields kept. */
async function refreshCapture() {
  state.pendingInventory = null; // a new capture comes with its own inventory
  let fs;
  try { fs = await invoke('get_form_state'); } catch { return; }
  if (!fs) return;
  if (state.view === 'success' || state.view === 'loading') {
    renderState(fs, { keepContact: state.view === 'success', useDraft: state.view === 'loading' });
    clearErrors();
    showView('form');
    focusInitial();
  } else {
    const prev = state.formState || {};
    state.formState = { ...prev, ...fs };
    applyBranding(state.formState);
    if (!fs.inventory && state.pendingInventory) state.formState.inventory = state.pendingInventory;
    renderScreenshots(fs, []);
    renderInventory(state.formState.inventory);
    if (!state.formState.inventory) scheduleInventoryRetries();
  }
  markPainted(fs.session_id);
}

function focusInitial() {
  const order = ['name', 'email', 'description'];
  const prefilled = ['name', 'email'].every((k) => !state.required[k] || $(k).value.trim());
  if (prefilled) { $('description').focus(); return; }
  for (const k of order) {
    if (state.required[k] && !$(k).value.trim()) { $(k).focus(); return; }
  }
  $('description').focus();
}

// ---- events ----------------------------------------------------------------------------------

function wireEvents() {
  const form = $('ticket-form');
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  form.addEventListener('input', (e) => {
    const t = e.target;
    if (t.id === 'description') updateDerivedSubject();
    if (t.id === 'subject') onSubjectEdited();
    if (t.id && FIELD_IDS.includes(t.id) && t.getAttribute('aria-invalid') === 'true') clearFieldError(t.id);
    scheduleDraftSave();
  });
  form.addEventListener('change', (e) => {
    if (e.target.id === 'subject') onSubjectEdited();
    scheduleDraftSave();
  });
  $('subject').addEventListener('blur', () => {
    if (!state.subjectEdited) updateDerivedSubject(true);
  });
  // Enter in a one-line field must not send the ticket by accident (Ctrl+Enter does).
  form.addEventListener('keydown', (e) => {
    const t = e.target;
    if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey && t instanceof HTMLInputElement
        && !['checkbox', 'radio', 'button', 'submit'].includes(t.type)) e.preventDefault();
  });
  $('cancel-btn').addEventListener('click', () => closeForm());
  $('success-close-btn').addEventListener('click', () => closeForm());
  $('new-ticket-btn').addEventListener('click', () => newTicket());
  $('error-back-btn').addEventListener('click', () => {
    showView('form');
    $('submit-btn').focus();
  });
  $('error-retry-btn').addEventListener('click', () => {
    if (state.lastForm && !state.sending) send(state.lastForm, $('error-retry-btn'));
  });

  const dialog = $('screenshot-dialog');
  $('screenshot-dialog-close').addEventListener('click', () => closeScreenshot());
  dialog.addEventListener('click', (e) => { if (e.target === dialog) closeScreenshot(); });
  dialog.addEventListener('close', () => {
    state.dialogToken += 1;
    const opener = state.dialogOpener;
    state.dialogOpener = null;
    if (opener && document.contains(opener)) opener.focus();
  });

  document.addEventListener('keydown', (e) => {
    if (isComposing(e)) return;
    const dialogOpen = dialog.open;
    if (isModChord(e, 'Enter')) {
      if (dialogOpen) return;
      e.preventDefault();
      if (state.view === 'form') submit();
      return;
    }
    if (isEscape(e)) {
      if (dialogOpen || e.defaultPrevented) return; // the dialog handles its own Esc
      e.preventDefault();
      closeForm();
    }
  });

  window.addEventListener('beforeunload', () => flushDraft());
  window.addEventListener('pagehide', () => flushDraft());
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') flushDraft(); });

  if (isMac()) {
    const kbds = $('kbd-hint').querySelectorAll('kbd');
    if (kbds[0]) kbds[0].textContent = '⌘';
  }
}

async function start() {
  if (!startPage(wireEvents, 'This form has to be opened by the Helpdesk Button app.')) return;
  listen('inventory-ready', (event) => {
    const inv = event && 'payload' in event ? event.payload : event;
    if (inv && typeof inv === 'object') {
      setInventory(inv);
    }
  });
  listen('form-state-changed', () => { refreshCapture(); });

  let fs;
  try {
    fs = await invoke('get_form_state');
  } catch (raw) {
    const err = normalizeError(raw);
    $('loading-view').textContent = `The form could not be opened: ${err.message}`;
    return;
  }
  renderState(fs || {});
  showView('form');
  focusInitial();
  markPainted(fs && fs.session_id);
}

whenReady(start);
