// Helpdesk Button: the admin settings window.
//
// Plain ES module, no build step, no libraries. Runs inside the Tauri webview under a strict CSP
// (no inline scripts or styles): dynamic styles go through classes or CSSOM
// (`style.setProperty`), and every piece of text from the backend or the admin is set with
// textContent, never parsed as HTML.
//
// Every setting is bound by its dotted key (`atera.endpoint`): the input's id is the key with
// dots replaced by dashes (`atera-endpoint`), its message `<id>-error`, its hints `<id>-notes`.
// The window edits a draft copy of the settings; Save sends the whole object, Cancel reloads it
// from the backend. The rules script is saved on its own (`admin_save_rules`), and also by Save
// when it changed.
//
// This module is the page wiring; it only runs in a browser. The pure helpers are modules of
// their own, re-exported here so tests can import them: admin-fields.js (settings and their
// checks), admin-updates-view.js (the Updates section's words), admin-rules-view.js (the rules
// editor's highlighting and examples), admin-relay.js (the Rules section in relay mode).
// Helpers shared with the other windows live in common.js.

import {
  $, el, showViews, showImage, whenReady, startPage, invoke, normalizeError, isModChord,
  isValidEmail, normalizeAccent, applyAccent, supportTitle,
} from './common.js';

import { rulesCommands, relayView, savedMessage } from './admin-relay.js';

export { rulesCommands, relayView, formatTime, savedMessage } from './admin-relay.js';
export { isValidEmail, normalizeAccent, accentPalette, normalizeError, supportTitle as formTitle } from './common.js';

import {
  VALIDATE_DEBOUNCE_MS, CHECK_DEBOUNCE_MS, PASSWORD_MIN, LOGO_MAX_BYTES, getPath, setPath, idOf,
  isLockedKey, isLogoDataUrl, passwordStrength, hotkeyFromEvent, bytesToMbText, mbTextToBytes,
  clientProblem, invalidListItems,
} from './admin-fields.js';
import { updateStatusView } from './admin-updates-view.js';
import {
  RULE_READ_ONLY, RULE_READ_WRITE, highlightLines, offsetOf, diagnosticKind, EXAMPLES,
} from './admin-rules-view.js';

export * from './admin-fields.js';
export * from './admin-updates-view.js';
export * from './admin-rules-view.js';

// ---------------------------------------------------------------------------------------------
// Page wiring
// ---------------------------------------------------------------------------------------------

const clone = (x) => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));

const SECTIONS = ['atera', 'defaults', 'form', 'screenshots', 'branding', 'rules', 'updates', 'about'];

/** Every setting the window edits: its section, and how its input is read. */
const FIELDS = {
  'atera.endpoint': { section: 'atera', label: 'Atera address' },
  'atera.auth_mode': { section: 'atera', kind: 'select', label: 'How the key is sent' },
  'atera.fallback_contact_email': { section: 'atera', label: 'Fallback contact email' },
  'atera.defaults.priority': { section: 'defaults', kind: 'select', label: 'Priority' },
  'atera.defaults.type': { section: 'defaults', kind: 'select', label: 'Type' },
  'atera.defaults.impact': { section: 'defaults', kind: 'select', label: 'Impact' },
  'atera.defaults.status': { section: 'defaults', label: 'Status' },
  'form.checkboxes': { section: 'form', kind: 'list', label: 'Checkboxes' },
  'form.radio_groups': { section: 'form', kind: 'groups', label: 'Choice groups' },
  'form.require_phone': { section: 'form', kind: 'bool', label: 'Phone number is required' },
  hotkey: { section: 'form', label: 'Hotkey' },
  'screenshots.mode': { section: 'screenshots', kind: 'radio', label: 'Which screens' },
  'screenshots.allow_exclude': { section: 'screenshots', kind: 'bool', label: 'Users may exclude monitors' },
  'screenshots.max_total_bytes': { section: 'screenshots', kind: 'mb', label: 'Size limit per ticket' },
  'branding.company_name': { section: 'branding', label: 'Company name' },
  'branding.accent_color': { section: 'branding', label: 'Accent colour' },
  'branding.logo_data_url': { section: 'branding', kind: 'logo', label: 'Logo' },
  'support.phone': { section: 'branding', label: 'Support phone' },
  'support.email': { section: 'branding', label: 'Support email' },
  'support.url': { section: 'branding', label: 'Support web page' },
  'updates.channel': { section: 'updates', kind: 'select', label: 'Update channel' },
  'updates.check_hours': { section: 'updates', kind: 'int', label: 'Hours between checks' },
  'updates.stable_url': { section: 'updates', label: 'Stable manifest URL' },
  'updates.beta_url': { section: 'updates', label: 'Beta manifest URL' },
};

const AUTH_MODE_LABELS = { auto: 'Automatic (recommended)', 'api-key': 'X-API-KEY header', bearer: 'Bearer token' };
const CHANNEL_LABELS = { stable: 'Stable', beta: 'Beta' };
const SCREENSHOT_MODES = {
  'all-monitors': ['All monitors', 'One picture of every screen.'],
  'primary-only': ['Primary only', 'Just the main screen.'],
  off: ['Off', 'No pictures are taken.'],
};

const state = {
  view: 'loading',
  status: null,            // last admin_status
  data: null,              // last admin_get_settings
  saved: null,             // settings as saved
  draft: null,             // settings being edited
  locked: [],
  errors: {},              // key -> message shown under the field
  notes: {},               // key -> [notes]
  validateTimers: {},
  validateSeq: {},
  section: 'atera',
  saving: false,
  countdownTimer: null,
  throttleUntil: 0,
  pendingEdits: null,      // unsaved edits kept across an unexpected lock
  rules: {
    saved: '',
    checkTimer: null,
    checkSeq: 0,
    diagnostics: [],
    testError: null,
    sampleLoaded: false,
    flashTimer: null,
    escapeTab: false,
    relay: null,           // relay mode: {url, signed_in}; the rules are the relay's
    doc: null,             // the relay's rules document once signed in
    pending: null,         // edits kept across a lock until the admin signs in again
  },
  confirmResolve: null,
  updates: {
    loaded: false,         // admin_update_status asked since the last unlock or Save
    status: null,          // the last UpdateStatus shown
    seq: 0,                // numbers the status requests; an older answer never replaces a newer one
    applied: 0,
    checking: false,
    installing: false,
    problem: null,         // {title, message}: a command that failed, shown until the next status
    restarting: null,      // the version Install now installed; the app restarts into it
  },
};

class LockedError extends Error {}

/** invoke for commands behind the lock: a "locked" answer returns to the lock screen. */
async function call(cmd, args) {
  try {
    return await invoke(cmd, args);
  } catch (raw) {
    const err = normalizeError(raw);
    if (err.kind === 'locked') {
      lockedOut(err.message);
      throw new LockedError(err.message);
    }
    throw err;
  }
}

// ---- views -----------------------------------------------------------------------------------

function showView(view) {
  state.view = view;
  showViews(view, { 'loading-view': 'loading', 'lock-view': 'lock', 'admin-view': 'admin' });
}

function setBusy(button, busy, busyText) {
  if (busy) {
    if (!button.dataset.idleText) button.dataset.idleText = button.textContent;
    if (busyText) button.textContent = busyText;
    button.dataset.busy = 'true';
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
  } else {
    if (button.dataset.idleText) button.textContent = button.dataset.idleText;
    delete button.dataset.idleText;
    button.dataset.busy = 'false';
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

function showMessage(elId, message) {
  const node = $(elId);
  if (!node) return;
  node.textContent = message || '';
  node.hidden = !message;
}

// ---------------------------------------------------------------------------------------------
// Lock screen
// ---------------------------------------------------------------------------------------------

async function showLock(intro) {
  let st;
  try {
    st = await invoke('admin_status');
  } catch (raw) {
    $('loading-view').textContent = `The settings could not be opened: ${normalizeError(raw).message}`;
    showView('loading');
    return;
  }
  state.status = st || {};
  if (state.status.unlocked) { await enterAdmin(); return; }
  const setup = !state.status.password_set && !state.status.policy_sets_password;
  const policyWait = !state.status.password_set && !!state.status.policy_sets_password;
  $('setup-form').hidden = !setup;
  $('policy-wait').hidden = !policyWait;
  $('unlock-form').hidden = setup || policyWait;
  $('unlock-policy-note').hidden = !state.status.policy_sets_password;
  $('unlock-intro').textContent = intro || 'The settings are locked. Enter the admin password to change them.';
  for (const id of ['setup-password', 'setup-confirm', 'unlock-password']) $(id).value = '';
  for (const id of ['setup-password-error', 'setup-confirm-error', 'setup-error', 'unlock-error']) showMessage(id, '');
  updateStrength('setup');
  showView('lock');
  const retry = Number(state.status.retry_after_ms) || 0;
  if (retry > 0) startCountdown(retry); else stopCountdown();
  if (setup) $('setup-password').focus();
  else if (!policyWait) $('unlock-password').focus();
}

function updateStrength(prefix) {
  const pw = $(`${prefix}-password`).value;
  const { score, text } = passwordStrength(pw);
  $(`${prefix}-strength`).dataset.score = String(score);
  $(`${prefix}-strength-text`).textContent = text;
}

/** Checks a new password and its confirmation; shows messages; returns true when both are fine. */
function checkNewPassword(prefix, { final = false } = {}) {
  const pw = $(`${prefix}-password`).value;
  const confirm = $(`${prefix}-confirm`).value;
  let pwMsg = '';
  let confirmMsg = '';
  if (Array.from(pw).length < PASSWORD_MIN) {
    if (final || pw) pwMsg = pw ? `Use at least ${PASSWORD_MIN} characters (this one has ${Array.from(pw).length}).` : `Choose a password of at least ${PASSWORD_MIN} characters.`;
  }
  if (confirm && confirm !== pw && (final || confirm.length >= pw.length)) confirmMsg = "The two passwords don't match.";
  if (final && !confirm && !pwMsg) confirmMsg = 'Type the password a second time.';
  setInputError(`${prefix}-password`, pwMsg);
  setInputError(`${prefix}-confirm`, confirmMsg);
  return !pwMsg && !confirmMsg && Array.from(pw).length >= PASSWORD_MIN && pw === confirm;
}

const ERROR_IDS = { 'unlock-password': 'unlock-error', 'api-key-input': 'api-key-error' };

function setInputError(id, message) {
  showMessage(ERROR_IDS[id] || `${id}-error`, message);
  const input = $(id);
  if (message) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
}

async function submitSetup() {
  const btn = $('setup-btn');
  if (btn.disabled) return;
  showMessage('setup-error', '');
  if (!checkNewPassword('setup', { final: true })) {
    ($('setup-password').getAttribute('aria-invalid') ? $('setup-password') : $('setup-confirm')).focus();
    return;
  }
  const password = $('setup-password').value;
  setBusy(btn, true, 'Setting the password…');
  try {
    await invoke('admin_set_password', { password });
    const st = await invoke('admin_status');
    if (!st || !st.unlocked) await invoke('admin_unlock', { password });
    $('setup-password').value = '';
    $('setup-confirm').value = '';
    await enterAdmin();
  } catch (raw) {
    const err = normalizeError(raw);
    if (err.kind === 'invalid') setInputError('setup-password', err.message);
    else showMessage('setup-error', err.message);
    $('setup-password').focus();
  } finally {
    setBusy(btn, false);
  }
}

async function submitUnlock() {
  const btn = $('unlock-btn');
  if (btn.disabled || Date.now() < state.throttleUntil) return;
  const input = $('unlock-password');
  const password = input.value;
  if (!password) {
    setInputError('unlock-password', 'Enter the admin password.');
    input.focus();
    return;
  }
  setInputError('unlock-password', '');
  setBusy(btn, true, 'Unlocking…');
  let ok = false;
  try {
    await invoke('admin_unlock', { password });
    ok = true;
  } catch (raw) {
    const err = normalizeError(raw);
    setBusy(btn, false);
    let message = err.message || "That's not the admin password.";
    if (err.retryAfterMs > 0) {
      // The countdown says when to try again; a fixed "Try again in 5 s." would go stale.
      message = message.replace(/\s*Try again in \d+\s*s(?:econds?)?\.?\s*$/i, '');
      if (/^too many/i.test(message)) message = '';
      startCountdown(err.retryAfterMs);
    }
    setInputError('unlock-password', message);
    input.select();
    input.focus();
    return;
  }
  if (ok) {
    input.value = '';
    setBusy(btn, false);
    await enterAdmin();
  }
}

function startCountdown(ms) {
  stopCountdown();
  state.throttleUntil = Date.now() + ms;
  const btn = $('unlock-btn');
  const box = $('unlock-countdown');
  btn.disabled = true;
  const tick = () => {
    const left = state.throttleUntil - Date.now();
    if (left <= 0) {
      stopCountdown();
      if (state.view === 'lock') $('unlock-password').focus();
      return;
    }
    const s = Math.ceil(left / 1000);
    box.textContent = `Too many wrong passwords. You can try again in ${s} second${s === 1 ? '' : 's'}.`;
    box.dataset.seconds = String(s);
    box.hidden = false;
  };
  tick();
  state.countdownTimer = setInterval(tick, 200);
}

function stopCountdown() {
  if (state.countdownTimer) clearInterval(state.countdownTimer);
  state.countdownTimer = null;
  state.throttleUntil = 0;
  const box = $('unlock-countdown');
  box.hidden = true;
  box.textContent = '';
  delete box.dataset.seconds;
  const btn = $('unlock-btn');
  if (btn.dataset.busy !== 'true') btn.disabled = false;
}

/** The backend said "locked" (an idle timeout, or a lock from elsewhere): keep edits, ask again. */
function lockedOut() {
  if (state.view !== 'admin') return;
  state.view = 'locking'; // several calls can be refused at once: only the first one acts
  if (isDirty()) state.pendingEdits = { draft: clone(state.draft), rules: editedRules() };
  closeExamples();
  showLock(state.pendingEdits
    ? 'The settings locked themselves. Enter the password to continue: your unsaved changes are kept.'
    : 'The settings locked themselves. Enter the admin password to continue.');
}

async function lockNow() {
  if (isDirty()) {
    const ok = await confirmDiscard('Lock and discard your changes?', 'Your unsaved changes will be lost.');
    if (!ok) return;
  }
  try { await invoke('admin_lock'); } catch { /* locking is best effort: the view locks anyway */ }
  state.pendingEdits = null;
  state.draft = null;
  state.saved = null;
  state.rules.doc = null;
  state.rules.pending = null;
  $('rules-editor').value = '';
  renderEditor();
  await showLock();
}

// ---------------------------------------------------------------------------------------------
// Loading and rendering the settings
// ---------------------------------------------------------------------------------------------

async function enterAdmin() {
  stopCountdown();
  state.updates.loaded = false;
  try {
    await loadSettings();
  } catch (e) {
    if (e instanceof LockedError) return;
    $('loading-view').textContent = `The settings could not be loaded: ${e.message}`;
    showView('loading');
    return;
  }
  const pending = state.pendingEdits;
  state.pendingEdits = null;
  if (pending) {
    state.draft = pending.draft;
    renderAll();
    if (relayMode() && !state.rules.doc) state.rules.pending = pending.rules;
    else setEditorText(pending.rules);
    validateAll();
    scheduleCheck();
  }
  showView('admin');
  showSection(state.section, { focus: true });
  updateDirty();
}

/** admin_get_settings into the page. `keepRules` leaves the editor's text alone. */
async function loadSettings({ keepRules = false } = {}) {
  const data = await call('admin_get_settings');
  state.data = data || {};
  state.saved = clone(state.data.settings || {});
  state.draft = clone(state.saved);
  state.locked = Array.isArray(state.data.locked) ? state.data.locked.slice() : [];
  state.errors = {};
  state.notes = {};
  for (const t of Object.values(state.validateTimers)) clearTimeout(t);
  state.validateTimers = {};
  state.validateSeq = {};
  state.rules.relay = state.data.rules && state.data.rules.relay ? state.data.rules.relay : null;
  if (!state.rules.relay || !state.rules.relay.signed_in) state.rules.doc = null;
  const localText = state.data.rules && typeof state.data.rules.text === 'string' ? state.data.rules.text : '';
  const rulesText = relayMode() ? (state.rules.doc ? state.rules.doc.script : '') : localText;
  state.rules.saved = rulesText;
  renderAll();
  renderRelay();
  if (!keepRules) {
    setEditorText(rulesText);
    state.rules.testError = null;
    showMessage('rules-save-error', '');
    showMessage('rules-save-status', '');
    scheduleCheck(0);
  }
  if (relayMode() && state.rules.relay.signed_in && !keepRules) loadRelayRules();
  renderApiKey(state.data.api_key);
  renderAbout(state.data.about);
  hideSaveSummary();
}

function fillSelect(select, options, current) {
  select.replaceChildren();
  const values = [];
  for (const o of options) {
    if (o === null || o === undefined) continue;
    const value = typeof o === 'object' ? String(o.value ?? '') : String(o);
    const label = typeof o === 'object' ? String(o.label ?? value) : String(o);
    values.push(value);
    select.append(el('option', { value, text: label }));
  }
  if (current !== undefined && current !== null && !values.includes(String(current))) {
    select.append(el('option', { value: String(current), text: String(current) }));
  }
  if (current !== undefined && current !== null) select.value = String(current);
}

function renderAll() {
  const d = state.draft;
  const choices = state.data.choices || {};
  const str = (k) => { const v = getPath(d, k); return v === undefined || v === null ? '' : String(v); };

  for (const [key, f] of Object.entries(FIELDS)) {
    const input = $(idOf(key));
    if (!f.kind && input) input.value = str(key);
  }
  fillSelect($('atera-auth_mode'), (choices.auth_mode || ['auto', 'api-key', 'bearer']).map((v) => ({ value: v, label: AUTH_MODE_LABELS[v] || v })), getPath(d, 'atera.auth_mode'));
  fillSelect($('atera-defaults-priority'), choices.priority || [], getPath(d, 'atera.defaults.priority'));
  fillSelect($('atera-defaults-type'), choices.type || [], getPath(d, 'atera.defaults.type'));
  fillSelect($('atera-defaults-impact'), choices.impact || [], getPath(d, 'atera.defaults.impact'));
  fillSelect($('updates-channel'), (choices.update_channel || ['stable', 'beta']).map((v) => ({ value: v, label: CHANNEL_LABELS[v] || v })), getPath(d, 'updates.channel'));
  $('form-require_phone').checked = !!getPath(d, 'form.require_phone');
  $('screenshots-allow_exclude').checked = !!getPath(d, 'screenshots.allow_exclude');
  $('screenshots-max_total_bytes').value = bytesToMbText(getPath(d, 'screenshots.max_total_bytes'));
  $('updates-check_hours').value = str('updates.check_hours');
  renderScreenshotModes(choices.screenshot_mode || Object.keys(SCREENSHOT_MODES));
  $('branding-accent_color-picker').value = normalizeAccent(str('branding.accent_color')) || '#2563eb';
  renderHotkeyKeys();
  renderCheckboxList();
  renderRadioGroups();
  renderLogo();
  applyLocks();
  renderAllMessages();
  updateBrandPreview();
  renderFormPreview();
  $('test-email').placeholder = str('atera.fallback_contact_email') || 'someone@yourcustomer.com';
}

function renderScreenshotModes(modes) {
  const box = $('screenshots-mode-options');
  box.replaceChildren();
  const current = getPath(state.draft, 'screenshots.mode');
  const all = modes.includes(current) || !current ? modes : [...modes, current];
  for (const mode of all) {
    const [title, desc] = SCREENSHOT_MODES[mode] || [mode, ''];
    const id = `screenshots-mode-${mode}`;
    const input = el('input', { type: 'radio', id, name: 'screenshots-mode', value: mode, 'data-key': 'screenshots.mode' });
    input.checked = mode === current;
    const label = el('label', { class: `option-card${input.checked ? ' is-checked' : ''}`, for: id }, input,
      el('span', { class: 'option-title', text: title }), desc ? el('span', { class: 'option-desc', text: desc }) : null);
    box.append(label);
  }
}

// ---- list editors ------------------------------------------------------------------------------

function iconButton(kind, label, onClick, disabled) {
  const glyph = kind === 'up' ? el('span', { class: 'chev chev-up' }) : kind === 'down' ? el('span', { class: 'chev chev-down' }) : el('span', { class: 'cross' });
  const b = el('button', { type: 'button', class: `icon-btn${kind === 'remove' ? ' is-remove' : ''}`, 'aria-label': label, title: label }, glyph);
  b.disabled = !!disabled;
  b.dataset.action = kind;
  b.addEventListener('click', onClick);
  return b;
}

/**
 * One editable list of labels (`items` is mutated in place). `onChange(structural, focusId)` is
 * called after every edit; `idBase` names the inputs (`${idBase}-item-${i}`).
 */
function renderLabelList(ol, items, { idBase, noun, locked, onChange, placeholder }) {
  ol.replaceChildren();
  const bad = invalidListItems(items);
  if (!items.length) ol.append(el('li', { class: 'list-empty', text: `No ${noun.toLowerCase()}s yet.` }));
  items.forEach((value, i) => {
    const id = `${idBase}-item-${i}`;
    const input = el('input', { type: 'text', id, value: String(value ?? ''), 'aria-label': `${noun} ${i + 1}`, placeholder, autocomplete: 'off' });
    input.disabled = locked;
    input.addEventListener('input', () => {
      items[i] = input.value;
      onChange(false);
    });
    const move = (delta) => () => {
      const j = i + delta;
      [items[i], items[j]] = [items[j], items[i]];
      onChange(true, `${idBase}-item-${j}`, delta < 0 ? 'up' : 'down');
    };
    const row = el('li', { class: `list-row${bad.has(i) ? ' is-invalid' : ''}` },
      el('span', { class: 'row-num', text: String(i + 1), 'aria-hidden': 'true' }),
      input,
      iconButton('up', `Move "${value}" up`, move(-1), locked || i === 0),
      iconButton('down', `Move "${value}" down`, move(1), locked || i === items.length - 1),
      iconButton('remove', `Remove "${value}"`, () => {
        items.splice(i, 1);
        const next = items.length ? `${idBase}-item-${Math.min(i, items.length - 1)}` : null;
        onChange(true, next);
      }, locked));
    if (bad.has(i)) input.setAttribute('aria-invalid', 'true');
    ol.append(row);
  });
}

function focusAfterRender(id, action) {
  if (!id) return;
  const node = $(id);
  if (!node) return;
  if (action) {
    const row = node.closest('.list-row');
    const btn = row && row.querySelector(`[data-action="${action}"]`);
    if (btn && !btn.disabled) { btn.focus(); return; }
  }
  node.focus();
}

function renderCheckboxList(focusId, action) {
  const items = getPath(state.draft, 'form.checkboxes');
  const list = Array.isArray(items) ? items : [];
  if (!Array.isArray(items)) setPath(state.draft, 'form.checkboxes', list);
  const locked = isLockedKey('form.checkboxes', state.locked);
  renderLabelList($('form-checkboxes'), list, {
    idBase: 'form-checkboxes',
    noun: 'Checkbox',
    locked,
    placeholder: 'For example: This is an emergency',
    onChange: (structural, fid, act) => {
      if (structural) renderCheckboxList(fid, act);
      else markListValidity($('form-checkboxes'), list);
      onFieldChanged('form.checkboxes');
    },
  });
  $('form-checkboxes-add').disabled = locked;
  focusAfterRender(focusId, action);
}

function markListValidity(ol, items) {
  const bad = invalidListItems(items);
  ol.querySelectorAll('.list-row').forEach((row, i) => {
    row.classList.toggle('is-invalid', bad.has(i));
    const input = row.querySelector('input');
    if (bad.has(i)) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  });
}

function renderRadioGroups(focusId, action) {
  let groups = getPath(state.draft, 'form.radio_groups');
  if (!Array.isArray(groups)) { groups = []; setPath(state.draft, 'form.radio_groups', groups); }
  const locked = isLockedKey('form.radio_groups', state.locked);
  const box = $('form-radio_groups');
  box.replaceChildren();
  if (!groups.length) box.append(el('p', { class: 'list-empty', text: 'No choice groups yet.' }));
  groups.forEach((group, g) => {
    if (!group || typeof group !== 'object') { groups[g] = { label: '', options: [] }; group = groups[g]; } // eslint-disable-line no-param-reassign
    if (!Array.isArray(group.options)) group.options = [];
    const labelId = `radio-group-${g}-label`;
    const labelInput = el('input', { type: 'text', id: labelId, value: String(group.label ?? ''), autocomplete: 'off', placeholder: 'For example: Who is affected?' });
    labelInput.disabled = locked;
    if (!String(group.label ?? '').trim()) labelInput.setAttribute('aria-invalid', 'true');
    labelInput.addEventListener('input', () => {
      group.label = labelInput.value;
      if (labelInput.value.trim()) labelInput.removeAttribute('aria-invalid'); else labelInput.setAttribute('aria-invalid', 'true');
      onFieldChanged('form.radio_groups');
    });
    const remove = el('button', { type: 'button', class: 'btn btn-link', id: `radio-group-${g}-remove`, text: 'Remove group' });
    remove.disabled = locked;
    remove.addEventListener('click', () => {
      groups.splice(g, 1);
      renderRadioGroups(groups.length ? `radio-group-${Math.min(g, groups.length - 1)}-label` : 'form-radio_groups-add');
      onFieldChanged('form.radio_groups');
    });
    const ol = el('ol', { class: 'list-editor', id: `radio-group-${g}-options`, 'aria-label': `Options of group ${g + 1}` });
    const add = el('button', { type: 'button', class: 'btn btn-link btn-add', id: `radio-group-${g}-add`, text: 'Add an option' });
    add.disabled = locked;
    add.addEventListener('click', () => {
      group.options.push('');
      renderRadioGroups(`radio-group-${g}-option-item-${group.options.length - 1}`);
      onFieldChanged('form.radio_groups');
    });
    const card = el('div', { class: 'radio-group-card', id: `radio-group-${g}` },
      el('div', { class: 'radio-group-head' },
        el('div', { class: 'field' }, el('label', { for: labelId, text: `Group ${g + 1}: question` }), labelInput),
        remove),
      el('p', { class: 'options-label', text: 'Options' }),
      ol,
      add);
    box.append(card);
    renderLabelList(ol, group.options, {
      idBase: `radio-group-${g}-option`,
      noun: 'Option',
      locked,
      placeholder: 'An option',
      onChange: (structural, fid, act) => {
        if (structural) renderRadioGroups(fid, act);
        else markListValidity(ol, group.options);
        onFieldChanged('form.radio_groups');
      },
    });
  });
  $('form-radio_groups-add').disabled = locked;
  focusAfterRender(focusId, action);
}

// ---- hotkey ------------------------------------------------------------------------------------

function renderHotkeyKeys(text) {
  const box = $('hotkey-keys');
  box.replaceChildren();
  const value = text !== undefined ? text : String(getPath(state.draft, 'hotkey') || '');
  if (!value) { box.append(document.createTextNode('Click, then press the keys')); return; }
  value.split('+').forEach((part, i) => {
    if (i) box.append(el('span', { class: 'hotkey-plus', text: '+', 'aria-hidden': 'true' }));
    box.append(el('kbd', { text: part }));
  });
  $('hotkey-capture').setAttribute('aria-label', `Hotkey: ${value}. Press to record a new one.`);
}

function startHotkeyCapture() {
  const btn = $('hotkey-capture');
  if (btn.disabled) return;
  btn.classList.add('is-capturing');
  btn.dataset.capturing = 'true';
  const box = $('hotkey-keys');
  box.replaceChildren(document.createTextNode('Press the keys now… (Esc to cancel)'));
}

function stopHotkeyCapture() {
  const btn = $('hotkey-capture');
  if (btn.dataset.capturing !== 'true') return;
  btn.classList.remove('is-capturing');
  delete btn.dataset.capturing;
  renderHotkeyKeys();
}

function onHotkeyKeydown(e) {
  const btn = $('hotkey-capture');
  if (btn.dataset.capturing !== 'true') {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); startHotkeyCapture(); }
    return;
  }
  const plain = !e.ctrlKey && !e.altKey && !e.metaKey && !e.shiftKey;
  if (plain && e.key === 'Escape') { e.preventDefault(); stopHotkeyCapture(); return; }
  if (plain && e.key === 'Tab') { stopHotkeyCapture(); return; }
  e.preventDefault();
  e.stopPropagation();
  const r = hotkeyFromEvent(e);
  if (!r) {
    // Only modifiers so far: show them.
    const mods = [];
    if (e.ctrlKey) mods.push('Ctrl');
    if (e.altKey) mods.push('Alt');
    if (e.shiftKey) mods.push('Shift');
    if (e.metaKey) mods.push('Super');
    renderHotkeyKeys(`${mods.join('+')}+…`);
    return;
  }
  if (r.error) {
    setFieldError('hotkey', r.error);
    return;
  }
  btn.classList.remove('is-capturing');
  delete btn.dataset.capturing;
  setPath(state.draft, 'hotkey', r.hotkey);
  $('hotkey').value = r.hotkey;
  renderHotkeyKeys();
  onFieldChanged('hotkey');
}

// ---- branding ------------------------------------------------------------------------------------

// The previews show the draft's colours; the window's own chrome keeps base.css's accent.
const BRAND_PREVIEW_PROPERTIES = { '--brand': 'accent', '--brand-on': 'onAccent', '--brand-soft': 'soft' };

function updateBrandPreview() {
  applyAccent(getPath(state.draft, 'branding.accent_color'), BRAND_PREVIEW_PROPERTIES);
  const title = supportTitle(getPath(state.draft, 'branding.company_name'));
  $('brand-preview-title').textContent = title;
  $('form-preview-company').textContent = title;
  const logo = getPath(state.draft, 'branding.logo_data_url');
  showImage($('brand-preview-logo'), isLogoDataUrl(logo) ? logo : null);
}

function renderLogo() {
  const logo = getPath(state.draft, 'branding.logo_data_url');
  const has = isLogoDataUrl(logo);
  showImage($('branding-logo-preview'), has ? logo : null);
  $('branding-logo-empty').hidden = has;
  $('branding-logo-remove').hidden = !logo;
  $('branding-logo-choose').textContent = logo ? 'Replace image…' : 'Choose an image…';
}

/** A problem with the chosen file (not with the saved value): stops a pending check from hiding it. */
function logoFileError(message) {
  clearTimeout(state.validateTimers['branding.logo_data_url']);
  state.validateSeq['branding.logo_data_url'] = (state.validateSeq['branding.logo_data_url'] || 0) + 1;
  setFieldError('branding.logo_data_url', message);
}

function onLogoFile() {
  const input = $('branding-logo-file');
  const file = input.files && input.files[0];
  input.value = '';
  if (!file) return;
  if (!['image/png', 'image/jpeg', 'image/svg+xml'].includes(file.type)) {
    logoFileError(`"${file.name}" is not a PNG, JPEG or SVG image.`);
    return;
  }
  if (file.size > LOGO_MAX_BYTES) {
    logoFileError(`"${file.name}" is ${Math.ceil(file.size / 1024)} KB. Use an image under 200 KB.`);
    return;
  }
  const reader = new FileReader();
  reader.addEventListener('load', () => {
    const url = String(reader.result || '');
    if (!isLogoDataUrl(url)) {
      logoFileError(`"${file.name}" could not be read as an image.`);
      return;
    }
    setPath(state.draft, 'branding.logo_data_url', url);
    renderLogo();
    onFieldChanged('branding.logo_data_url');
  });
  reader.addEventListener('error', () => logoFileError(`"${file.name}" could not be read.`));
  reader.readAsDataURL(file);
}

// ---- the form preview ------------------------------------------------------------------------

function renderFormPreview() {
  const body = $('form-preview-body');
  body.replaceChildren();
  const boxes = getPath(state.draft, 'form.checkboxes') || [];
  const groups = getPath(state.draft, 'form.radio_groups') || [];
  body.append(el('p', { class: 'preview-phone', text: getPath(state.draft, 'form.require_phone') ? 'Phone (required)' : 'Phone (optional)' }));
  const visible = boxes.filter((b) => String(b).trim());
  if (visible.length) {
    const list = el('div');
    list.append(el('p', { class: 'preview-title', text: 'Tick any that apply' }));
    for (const b of visible) list.append(el('p', { class: 'preview-check', text: String(b) }));
    body.append(list);
  }
  for (const g of groups) {
    if (!g) continue;
    const block = el('div');
    block.append(el('p', { class: 'preview-title', text: String(g.label || '').trim() || '(no question)' }));
    const chips = el('div', { class: 'preview-chips' });
    for (const o of g.options || []) if (String(o).trim()) chips.append(el('span', { class: 'preview-chip', text: String(o) }));
    block.append(chips);
    body.append(block);
  }
  if (!visible.length && !groups.length) body.append(el('p', { class: 'preview-empty', text: 'No checkboxes or choices.' }));
}

// ---- locks ---------------------------------------------------------------------------------------

function applyLocks() {
  document.querySelectorAll('.lock-badge').forEach((b) => b.remove());
  document.querySelectorAll('.is-locked').forEach((n) => n.classList.remove('is-locked'));
  let any = false;
  for (const key of Object.keys(FIELDS)) {
    const locked = isLockedKey(key, state.locked);
    const id = idOf(key);
    const wrap = document.querySelector(`[data-field="${key}"]`);
    const controls = [];
    const main = $(id);
    if (main) controls.push(main);
    if (key === 'branding.accent_color') controls.push($('branding-accent_color-picker'));
    if (key === 'hotkey') controls.push($('hotkey-capture'));
    if (key === 'screenshots.mode') controls.push(...document.querySelectorAll('#screenshots-mode-options input'));
    if (key === 'branding.logo_data_url') { controls.push($('branding-logo-file'), $('branding-logo-remove')); $('branding-logo-choose').classList.toggle('is-disabled', locked); }
    for (const c of controls) if (c) c.disabled = locked;
    if (!locked || !wrap) continue;
    any = true;
    wrap.classList.add('is-locked');
    const labelEl = wrap.querySelector(':scope > label:not(.toggle), :scope > .label, :scope > legend, :scope > .group-title, :scope > .label-row > *:first-child, .toggle-text');
    const badge = el('span', { class: 'lock-badge', id: `${id}-lock`, title: "Set by your organisation's policy" },
      el('span', { class: 'lock-glyph', 'aria-hidden': 'true' }), document.createTextNode("Set by your organisation's policy"));
    if (labelEl && labelEl.matches('label:not(.toggle), .label, .group-title')) {
      // The label and the badge share one row, so locked and unlocked fields stay aligned.
      let rowEl = labelEl.parentElement;
      if (!rowEl.classList.contains('label-row')) {
        rowEl = el('div', { class: 'label-row' });
        labelEl.before(rowEl);
        rowEl.append(labelEl);
      }
      rowEl.append(badge);
    } else if (labelEl) {
      labelEl.after(badge);
    } else {
      wrap.prepend(badge);
    }
    if (main) {
      const described = (main.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
      if (!described.includes(`${id}-lock`)) main.setAttribute('aria-describedby', [...described, `${id}-lock`].join(' '));
    }
  }
  // The rules script, when the policy ships it.
  // (In relay mode the rules are the relay's, and the relay decides who edits them.)
  const rulesLocked = !relayMode() && isLockedKey('rules', state.locked);
  $('rules-editor').readOnly = rulesLocked;
  $('rules-examples-btn').disabled = rulesLocked;
  if (rulesLocked) {
    $('rules-status').after(el('span', { class: 'lock-badge', id: 'rules-lock' },
      el('span', { class: 'lock-glyph', 'aria-hidden': 'true' }), document.createTextNode("Set by your organisation's policy")));
  }
  state.anyLocked = any || rulesLocked;
  updatePolicyBanner();
}

/** The policy note shows in the sections that have a locked setting. */
function updatePolicyBanner() {
  const here = Object.entries(FIELDS).some(([key, f]) => f.section === state.section && isLockedKey(key, state.locked))
    || (state.section === 'rules' && isLockedKey('rules', state.locked));
  $('policy-banner').hidden = !here;
}

// ---------------------------------------------------------------------------------------------
// Editing, validation, dirty state
// ---------------------------------------------------------------------------------------------

/** Reads a simple field's input into the draft. */
function readField(key, target) {
  const f = FIELDS[key];
  if (!f) return;
  switch (f.kind) {
    case 'bool': setPath(state.draft, key, !!target.checked); break;
    case 'radio': if (target.checked) setPath(state.draft, key, target.value); break;
    case 'mb': {
      const bytes = mbTextToBytes(target.value);
      // Kept as null while it is not a number, so the message shows and Save waits.
      setPath(state.draft, key, bytes);
      break;
    }
    case 'select': setPath(state.draft, key, target.value); break;
    case 'int': {
      // A whole number as a number; anything else is kept as typed, so the message shows and Save waits.
      const s = String(target.value).trim();
      setPath(state.draft, key, /^\d+$/.test(s) ? Number(s) : s);
      break;
    }
    default: setPath(state.draft, key, target.value);
  }
}

/** The value of a setting as admin_validate wants it: a string, lists as JSON. */
function valueForValidate(key) {
  const v = getPath(state.draft, key);
  if (Array.isArray(v) || (v && typeof v === 'object')) return JSON.stringify(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null || v === undefined) return '';
  return String(v);
}

function onFieldChanged(key) {
  const value = getPath(state.draft, key);
  const problem = clientProblem(key, value);
  setFieldError(key, problem);
  setNotes(key, []);
  clearTimeout(state.validateTimers[key]);
  if (!problem && !isLockedKey(key, state.locked)) {
    state.validateTimers[key] = setTimeout(() => serverValidate(key), VALIDATE_DEBOUNCE_MS);
  }
  if (key.startsWith('branding.')) updateBrandPreview();
  if (key.startsWith('form.')) renderFormPreview();
  if (key === 'screenshots.mode') {
    document.querySelectorAll('#screenshots-mode-options .option-card').forEach((c) => c.classList.toggle('is-checked', c.querySelector('input').checked));
  }
  updateDirty();
}

async function serverValidate(key) {
  const seq = (state.validateSeq[key] || 0) + 1;
  state.validateSeq[key] = seq;
  const value = valueForValidate(key);
  try {
    const r = await call('admin_validate', { key, value });
    if (state.validateSeq[key] !== seq) return;
    if (clientProblem(key, getPath(state.draft, key))) return;
    setFieldError(key, null);
    setNotes(key, r && Array.isArray(r.notes) ? r.notes : []);
  } catch (e) {
    if (e instanceof LockedError || state.validateSeq[key] !== seq) return;
    if (e.kind === 'invalid') setFieldError(key, e.message);
  }
}

function validateAll() {
  for (const key of Object.keys(FIELDS)) {
    if (JSON.stringify(getPath(state.draft, key)) === JSON.stringify(getPath(state.saved, key))) continue;
    setFieldError(key, clientProblem(key, getPath(state.draft, key)));
  }
}

function setFieldError(key, message) {
  if (message) state.errors[key] = message; else delete state.errors[key];
  renderFieldMessage(key);
  updateNavFlags();
  if (!$('save-summary').hidden) renderSaveSummary();
}

function setNotes(key, notes) {
  if (notes && notes.length) state.notes[key] = notes; else delete state.notes[key];
  const box = $(`${idOf(key)}-notes`);
  if (!box) return;
  box.replaceChildren(...(notes || []).map((n) => el('li', { text: n })));
  box.hidden = !(notes && notes.length);
}

function renderFieldMessage(key) {
  const id = idOf(key);
  const message = state.errors[key] || '';
  showMessage(`${id}-error`, message);
  const wrap = document.querySelector(`[data-field="${key}"]`);
  if (wrap) wrap.classList.toggle('has-error', !!message);
  const input = $(id);
  if (input && ['INPUT', 'SELECT', 'TEXTAREA'].includes(input.tagName)) {
    if (message) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  }
}

function renderAllMessages() {
  for (const key of Object.keys(FIELDS)) {
    renderFieldMessage(key);
    setNotes(key, state.notes[key] || []);
  }
  updateNavFlags();
}

function settingsDirty() {
  return !!state.draft && JSON.stringify(state.draft) !== JSON.stringify(state.saved);
}
function rulesDirty() {
  if (!state.draft || relayReadOnly()) return false;
  // Edits kept across a lock until the admin signs in to the relay again count too.
  if (relayMode() && !state.rules.doc) return typeof state.rules.pending === 'string';
  return $('rules-editor').value !== state.rules.saved;
}

/** The rules being edited: the editor's, or the ones kept while signed out of the relay. */
function editedRules() {
  if (relayMode() && !state.rules.doc && typeof state.rules.pending === 'string') return state.rules.pending;
  return $('rules-editor').value;
}

/** Where to go when the rules were not saved: the script, or the relay's sign-in. */
function focusRules() {
  showSection('rules');
  if ($('rules-editor-card').hidden) $('rules-relay-token').focus(); else $('rules-editor').focus();
}
function isDirty() { return settingsDirty() || rulesDirty(); }

function changedSections() {
  const out = new Set();
  if (!state.draft) return out;
  for (const [key, f] of Object.entries(FIELDS)) {
    if (JSON.stringify(getPath(state.draft, key)) !== JSON.stringify(getPath(state.saved, key))) out.add(f.section);
  }
  if (rulesDirty()) out.add('rules');
  return out;
}

function updateDirty() {
  const dirty = isDirty();
  $('save-btn').disabled = !dirty || state.saving;
  $('cancel-btn').disabled = !dirty || state.saving;
  $('rules-save-btn').disabled = !rulesDirty() || state.saving || (!relayMode() && isLockedKey('rules', state.locked));
  const status = $('save-status');
  if (dirty) {
    status.textContent = 'Unsaved changes';
    status.dataset.tone = 'dirty';
  } else if (status.dataset.tone === 'dirty') {
    status.textContent = '';
    delete status.dataset.tone;
  }
  document.body.dataset.dirty = dirty ? 'true' : 'false';
  $('test-note').hidden = !settingsDirty();
  updateNavFlags();
}

function updateNavFlags() {
  const errorCount = {};
  for (const key of Object.keys(state.errors)) {
    const s = FIELDS[key] ? FIELDS[key].section : key === 'rules' ? 'rules' : null;
    if (s) errorCount[s] = (errorCount[s] || 0) + 1;
  }
  const changed = changedSections();
  for (const s of SECTIONS) {
    const nav = $(`nav-${s}`);
    let flag = nav.querySelector('.nav-flag');
    const n = errorCount[s] || 0;
    if (!n && !changed.has(s)) { if (flag) flag.remove(); nav.removeAttribute('aria-description'); continue; }
    if (!flag) { flag = el('span', { class: 'nav-flag', 'aria-hidden': 'true' }); nav.append(flag); }
    flag.className = `nav-flag ${n ? 'is-error' : 'is-changed'}`;
    flag.textContent = n ? String(n) : '';
    nav.setAttribute('aria-description', n ? `${n} problem${n === 1 ? '' : 's'}` : 'changed');
  }
}

// ---- sections ---------------------------------------------------------------------------------

function showSection(name, { focus = false } = {}) {
  if (!SECTIONS.includes(name)) name = 'atera'; // eslint-disable-line no-param-reassign
  state.section = name;
  for (const s of SECTIONS) {
    $(`section-${s}`).hidden = s !== name;
    const nav = $(`nav-${s}`);
    if (s === name) nav.setAttribute('aria-current', 'page'); else nav.removeAttribute('aria-current');
  }
  document.body.dataset.section = name;
  updatePolicyBanner();
  $('content').scrollTop = 0;
  closeExamples();
  if (name === 'rules') {
    renderEditor();
    if (!state.rules.sampleLoaded) loadSample();
  }
  if (name === 'updates') {
    renderUpdateStatus();
    if (!state.updates.loaded) loadUpdateStatus();
  }
  if (focus) $(`section-${name}-title`).focus({ preventScroll: true });
}

/** The element to focus for a setting's message. */
function focusTarget(key) {
  if (key === 'form.checkboxes') return document.querySelector('#form-checkboxes [aria-invalid="true"]') || $('form-checkboxes-item-0') || $('form-checkboxes-add');
  if (key === 'form.radio_groups') return document.querySelector('#form-radio_groups [aria-invalid="true"]') || $('radio-group-0-label') || $('form-radio_groups-add');
  if (key === 'screenshots.mode') return document.querySelector('#screenshots-mode-options input:checked') || document.querySelector('#screenshots-mode-options input');
  if (key === 'branding.logo_data_url') return $('branding-logo-file');
  if (key === 'rules') return $('rules-editor');
  return $(idOf(key));
}

function goToField(key) {
  const section = FIELDS[key] ? FIELDS[key].section : key === 'rules' ? 'rules' : null;
  if (!section) return;
  showSection(section);
  const t = focusTarget(key);
  if (t) {
    t.focus({ preventScroll: true });
    t.scrollIntoView({ block: 'center' });
  }
}

// ---------------------------------------------------------------------------------------------
// Save, Cancel
// ---------------------------------------------------------------------------------------------

function renderSaveSummary(title) {
  const keys = Object.keys(state.errors);
  if (!keys.length) { hideSaveSummary(); return; }
  if (title) $('save-summary-title').textContent = title;
  else if (!$('save-summary-title').textContent) $('save-summary-title').textContent = 'Fix these before saving:';
  const list = $('save-summary-list');
  list.replaceChildren();
  const order = Object.keys(FIELDS);
  keys.sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
  for (const key of keys) {
    const label = FIELDS[key] ? FIELDS[key].label : key === 'rules' ? 'Rules' : key;
    const a = el('a', { href: `#${idOf(key)}`, text: `${label}: ${state.errors[key]}` });
    a.addEventListener('click', (e) => { e.preventDefault(); goToField(key); });
    list.append(el('li', {}, a));
  }
  $('save-summary').hidden = false;
}

function hideSaveSummary() {
  $('save-summary').hidden = true;
  $('save-summary-title').textContent = '';
  $('save-summary-list').replaceChildren();
}

function setSaveStatus(text, tone) {
  const s = $('save-status');
  s.textContent = text;
  if (tone) s.dataset.tone = tone; else delete s.dataset.tone;
}

async function save() {
  if (state.saving || state.view !== 'admin' || !isDirty()) return;
  // Every changed setting passes the client checks first.
  for (const key of Object.keys(FIELDS)) {
    if (JSON.stringify(getPath(state.draft, key)) === JSON.stringify(getPath(state.saved, key))) continue;
    const p = clientProblem(key, getPath(state.draft, key));
    if (p) setFieldError(key, p);
  }
  const fieldErrors = Object.keys(state.errors).filter((k) => k !== 'rules');
  if (fieldErrors.length) {
    const n = fieldErrors.length;
    renderSaveSummary(n === 1 ? 'Fix this before saving:' : `Fix these ${n} things before saving:`);
    setSaveStatus('Not saved: fix the marked fields', 'error');
    goToField(fieldErrors.sort((a, b) => Object.keys(FIELDS).indexOf(a) - Object.keys(FIELDS).indexOf(b))[0]);
    return;
  }
  state.saving = true;
  const btn = $('save-btn');
  setBusy(btn, true, 'Saving…');
  $('cancel-btn').disabled = true;
  let notes = [];
  let rulesFailed = false;
  const settingsChanged = settingsDirty();
  try {
    if (settingsChanged) {
      const r = await call('admin_save', { settings: clone(state.draft) });
      notes = r && Array.isArray(r.notes) ? r.notes : [];
    }
    if (rulesDirty()) rulesFailed = !(await saveRules({ quiet: true }));
    await loadSettings({ keepRules: true });
    if (rulesFailed) {
      setSaveStatus(settingsChanged ? 'Settings saved, but the rules were not: see Rules' : 'Rules not saved: see Rules', 'error');
      focusRules();
    } else {
      setSaveStatus(notes.length ? `Saved. Note: ${notes.join('; ')}` : 'Saved. The next form uses these settings.', 'ok');
    }
    if (settingsChanged) {
      // The channel or its address may have changed: the status is read again.
      state.updates.loaded = false;
      if (state.section === 'updates') loadUpdateStatus();
    }
  } catch (e) {
    if (e instanceof LockedError) return;
    if (e.kind === 'invalid' && e.fields && Object.keys(e.fields).length) {
      for (const [k, m] of Object.entries(e.fields)) setFieldError(k, String(m));
      renderSaveSummary(e.message || 'Some settings need fixing:');
      setSaveStatus('Not saved: fix the marked fields', 'error');
      const first = Object.keys(e.fields).find((k) => FIELDS[k] || k === 'rules');
      if (first) goToField(first); else $('save-summary').focus();
    } else {
      setSaveStatus(`Not saved: ${e.message}`, 'error');
    }
  } finally {
    // A failed save leaves unsaved changes; its message stays until the next edit.
    const failed = $('save-status').dataset.tone === 'error' ? $('save-status').textContent : null;
    state.saving = false;
    setBusy(btn, false);
    updateDirty();
    if (failed) setSaveStatus(failed, 'error');
  }
}

async function cancelEdits() {
  if (state.saving || state.view !== 'admin') return;
  try {
    await loadSettings();
    setSaveStatus('Changes discarded', '');
  } catch (e) {
    if (e instanceof LockedError) return;
    setSaveStatus(`Could not reload the settings: ${e.message}`, 'error');
  }
  updateDirty();
}

function confirmDiscard(title, text) {
  const dialog = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  return new Promise((resolve) => {
    state.confirmResolve = resolve;
    dialog.showModal();
    $('confirm-cancel').focus();
  });
}

function closeConfirm(result) {
  const dialog = $('confirm-dialog');
  const resolve = state.confirmResolve;
  state.confirmResolve = null;
  if (dialog.open) dialog.close();
  if (resolve) resolve(result);
}

// ---------------------------------------------------------------------------------------------
// API key, Integration Test, About, password change
// ---------------------------------------------------------------------------------------------

function renderApiKey(info) {
  const k = info && typeof info === 'object' ? info : {};
  const configured = !!k.configured;
  $('api-key-status').dataset.configured = configured ? 'true' : 'false';
  $('api-key-state').textContent = configured ? 'Key saved' : 'No key saved yet';
  $('api-key-masked').textContent = configured && k.masked ? String(k.masked) : '';
  $('api-key-source').textContent = configured && k.source ? String(k.source) : '';
  $('api-key-label').textContent = configured ? 'Replace key' : 'Paste the API key';
  const warning = typeof k.warning === 'string' ? k.warning.trim() : '';
  $('api-key-warning-text').textContent = warning;
  $('api-key-warning').hidden = !warning;
}

async function saveApiKey() {
  const input = $('api-key-input');
  const btn = $('api-key-save-btn');
  const key = input.value.trim();
  showMessage('api-key-saved', '');
  if (!key) { setInputError('api-key-input', 'Paste the key from Atera first.'); input.focus(); return; }
  if (/\s/.test(key)) { setInputError('api-key-input', 'Remove the spaces: paste the key exactly as Atera shows it.'); input.focus(); return; }
  setInputError('api-key-input', '');
  setBusy(btn, true, 'Saving…');
  try {
    const r = await call('admin_set_api_key', { key });
    input.value = '';
    const prev = state.data.api_key || {};
    state.data.api_key = { ...prev, configured: true, masked: r && r.masked, source: r && r.source, warning: r ? r.warning : null };
    renderApiKey(state.data.api_key);
    showMessage('api-key-saved', 'Key saved. Run the Integration Test to check it.');
  } catch (e) {
    if (e instanceof LockedError) return;
    setInputError('api-key-input', e.message);
    input.focus();
  } finally {
    setBusy(btn, false);
    btn.disabled = !input.value.trim();
  }
}

const wait = (ms) => new Promise((r) => setTimeout(r, ms));

async function runTest(send) {
  const emailInput = $('test-email');
  const email = emailInput.value.trim();
  if (email && !isValidEmail(email)) {
    setInputError('test-email', 'Use an email address like someone@yourcustomer.com.');
    emailInput.focus();
    return;
  }
  if (send && !email) {
    setInputError('test-email', 'Enter the email of a contact to file the test ticket for.');
    emailInput.focus();
    return;
  }
  setInputError('test-email', '');
  const buttons = [$('run-test-btn'), $('run-test-send-btn')];
  const btn = send ? buttons[1] : buttons[0];
  const other = send ? buttons[0] : buttons[1];
  setBusy(btn, true, send ? 'Testing and sending…' : 'Testing…');
  other.disabled = true;
  const list = $('test-steps');
  const summary = $('test-summary');
  list.replaceChildren();
  summary.textContent = '';
  delete summary.dataset.tone;
  $('test-result').hidden = false;
  $('test-result').dataset.state = 'running';
  const running = stepItem({ name: send ? 'Running the test and filing a test ticket…' : 'Running the test…', status: 'running', message: '' });
  list.append(running);
  let steps;
  try {
    const r = await call('admin_test_connection', { email, send: !!send });
    steps = Array.isArray(r) ? r : (r && Array.isArray(r.steps) ? r.steps : []);
  } catch (e) {
    if (e instanceof LockedError) return;
    steps = [{ name: 'Integration Test', status: 'failed', message: e.message }];
  } finally {
    setBusy(btn, false);
    other.disabled = false;
  }
  running.remove();
  // One by one, so the admin can follow the path a ticket takes.
  const reduce = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  for (let i = 0; i < steps.length; i += 1) {
    if (i && !reduce) await wait(140);
    list.append(stepItem(steps[i], i));
  }
  const failed = steps.find((s) => String(s.status) === 'failed');
  const warnings = steps.filter((s) => String(s.status) === 'warning').length;
  const ticket = steps.map((s) => /#\s?(\d+)/.exec(String(s.message || ''))).find(Boolean);
  if (failed) {
    summary.textContent = `The test stopped at "${failed.name}". Fix that and run it again.`;
    summary.dataset.tone = 'failed';
  } else if (warnings) {
    summary.textContent = `Tickets can be filed, with ${warnings} warning${warnings === 1 ? '' : 's'}.${ticket && send ? ` Test ticket #${ticket[1]} filed.` : ''}`;
    summary.dataset.tone = 'warning';
  } else {
    const skipped = steps.filter((s) => String(s.status) === 'skipped').length;
    summary.textContent = ticket && send
      ? `Everything works. Test ticket #${ticket[1]} filed.`
      : skipped ? `Everything that ran works; ${skipped} step${skipped === 1 ? ' was' : 's were'} skipped.` : 'Everything works.';
    summary.dataset.tone = 'ok';
  }
  if (ticket && send) summary.dataset.ticketNumber = ticket[1]; else delete summary.dataset.ticketNumber;
  $('test-result').dataset.state = failed ? 'failed' : warnings ? 'warning' : 'ok';
}

function stepItem(step, i) {
  const status = ['ok', 'warning', 'failed', 'running', 'skipped'].includes(String(step.status)) ? String(step.status) : 'warning';
  const label = { ok: 'OK', warning: 'Warning', failed: 'Failed', running: 'Running', skipped: 'Skipped' }[status];
  const li = el('li', { class: 'test-step', id: i === undefined ? 'test-step-running' : `test-step-${i}` });
  li.dataset.status = status;
  li.append(
    el('span', { class: 'step-icon', role: 'img', 'aria-label': label }),
    el('span', { class: 'step-name', text: String(step.name || '') }),
  );
  if (step.message) li.append(el('span', { class: 'step-message', text: String(step.message) }));
  return li;
}

function renderAbout(about) {
  const a = about && typeof about === 'object' ? about : {};
  $('about-version').textContent = a.version ? String(a.version) : '—';
  $('about-config_dir').textContent = a.config_dir ? String(a.config_dir) : '—';
  $('about-data_dir').textContent = a.data_dir ? String(a.data_dir) : '—';
  const pill = $('about-policy-status');
  const broken = a.policy_broken ? String(a.policy_broken) : '';
  pill.textContent = broken ? 'Broken: every setting is locked' : a.policy_loaded ? 'Loaded' : 'None';
  pill.dataset.tone = broken ? 'error' : a.policy_loaded ? 'ok' : 'none';
  $('about-policy_file').textContent = broken
    ? broken
    : a.policy_file ? (a.policy_loaded ? String(a.policy_file) : `(none at ${a.policy_file})`) : '';
  const bySetting = !!(state.status && state.status.policy_sets_password);
  $('change-password-policy').hidden = !bySetting;
  $('change-password-intro').hidden = bySetting;
  $('change-password-form').hidden = bySetting;
}

async function changePassword() {
  const btn = $('change-password-btn');
  if (btn.disabled) return;
  showMessage('change-password-status', '');
  if (!checkNewPassword('change', { final: true })) return;
  setBusy(btn, true, 'Changing…');
  try {
    await call('admin_set_password', { password: $('change-password').value });
    $('change-password').value = '';
    $('change-confirm').value = '';
    updateStrength('change');
    showMessage('change-password-status', 'Password changed.');
  } catch (e) {
    if (e instanceof LockedError) return;
    setInputError('change-password', e.message);
  } finally {
    setBusy(btn, false);
  }
}

// ---------------------------------------------------------------------------------------------
// Updates
// ---------------------------------------------------------------------------------------------

/** admin_update_status into the card. Runs when the section is first shown after unlock or Save. */
async function loadUpdateStatus() {
  const u = state.updates;
  u.loaded = true;
  u.seq += 1;
  const seq = u.seq;
  try {
    const st = await call('admin_update_status');
    if (seq < u.applied) return; // a check finished meanwhile: its answer is newer
    applyUpdateStatus(st, seq);
  } catch (e) {
    if (e instanceof LockedError) return;
    u.loaded = false; // asked again the next time the section is shown
    if (seq < u.applied) return;
    showUpdateProblem('The update status could not be read', e.message);
  }
}

function applyUpdateStatus(st, seq) {
  const u = state.updates;
  u.applied = seq;
  u.status = st && typeof st === 'object' ? st : {};
  u.problem = null;
  renderUpdateStatus();
}

/** A command that failed: its message in the card, in the error tone. */
function showUpdateProblem(title, message) {
  state.updates.problem = { title, message };
  renderUpdateStatus();
}

/** The card from state.updates (what is known before the status arrives, too). */
function renderUpdateStatus() {
  const u = state.updates;
  const about = (state.data && state.data.about) || {};
  const view = updateStatusView(u.status, { savedChannel: getPath(state.saved, 'updates.channel'), fallbackVersion: about.version });
  const label = (c) => CHANNEL_LABELS[c] || c;

  $('update-version').textContent = view.version;
  const channel = $('update-channel');
  channel.replaceChildren(document.createTextNode(label(view.channel)));
  if (view.nextChannel) channel.append(el('span', { class: 'muted', text: ` (the last check; the next one uses ${label(view.nextChannel)})` }));
  $('update-last-check').textContent = view.lastCheck;
  const manifest = $('update-manifest');
  manifest.textContent = view.manifest || (view.checked ? 'None' : '—');
  manifest.classList.toggle('muted', !view.manifest);
  const key = $('update-key-source');
  key.textContent = view.keySource || 'Known after the first check';
  key.classList.toggle('muted', !view.keySource);

  let shown = view;
  let cardState = view.state;
  if (u.restarting !== null) {
    shown = { tone: 'ok', title: `Version ${u.restarting || 'new'} installed`, text: 'The app restarts into it now, and this window closes.' };
    cardState = 'restarting';
  } else if (u.problem) {
    shown = { tone: 'error', title: u.problem.title, text: u.problem.message };
    cardState = 'error';
  } else if (!u.status) {
    shown = { tone: 'none', title: 'Reading the update status…' };
    cardState = 'loading';
  }
  $('update-card').dataset.state = cardState;
  const out = $('update-outcome');
  out.dataset.tone = shown.tone || 'none';
  $('update-outcome-title').textContent = shown.title || '';
  showMessage('update-outcome-text', shown.text);
  showMessage('update-outcome-notes', shown.notes);
  showMessage('update-outcome-next', shown.next);

  const busy = u.checking || u.installing || u.restarting !== null;
  const install = $('update-install-btn');
  install.hidden = u.restarting !== null || !(u.status && view.canInstall);
  if (install.dataset.busy !== 'true') install.disabled = busy;
  const check = $('update-check-btn');
  if (check.dataset.busy !== 'true') check.disabled = busy;
}

/** Check now: manifest, download and signature check take seconds; the window stays usable. */
async function checkUpdates() {
  const u = state.updates;
  const btn = $('update-check-btn');
  if (u.checking || u.installing || u.restarting !== null) return;
  u.checking = true;
  setBusy(btn, true, 'Checking…');
  renderUpdateStatus();
  showMessage('update-progress', 'Reading the manifest, then downloading and verifying any new version…');
  let st;
  let problem = null;
  try {
    st = await call('admin_check_updates');
  } catch (e) {
    problem = e;
  }
  u.checking = false;
  showMessage('update-progress', '');
  setBusy(btn, false);
  if (problem instanceof LockedError) { renderUpdateStatus(); return; }
  if (problem) {
    showUpdateProblem('The check could not run', problem.message);
    return;
  }
  u.seq += 1;
  u.loaded = true;
  applyUpdateStatus(st, u.seq);
}

/** Install now: installs the verified download; on success the app restarts and the window closes. */
async function installUpdate() {
  const u = state.updates;
  const btn = $('update-install-btn');
  if (u.checking || u.installing || u.restarting !== null || btn.hidden) return;
  u.installing = true;
  u.problem = null;
  setBusy(btn, true, 'Installing…');
  renderUpdateStatus();
  showMessage('update-progress', 'Installing… the app restarts when done.');
  let r;
  let problem = null;
  try {
    r = await call('admin_install_update');
  } catch (e) {
    problem = e;
  }
  u.installing = false;
  setBusy(btn, false);
  if (problem) {
    showMessage('update-progress', '');
    if (problem instanceof LockedError) { renderUpdateStatus(); return; }
    showUpdateProblem('Not installed', problem.message);
    return;
  }
  u.restarting = r && typeof r.installed === 'string' ? r.installed : '';
  showMessage('update-progress', 'Restarting…');
  renderUpdateStatus();
}

// ---------------------------------------------------------------------------------------------
// Rules editor
// ---------------------------------------------------------------------------------------------

function editorLineHeight() {
  const v = parseFloat(getComputedStyle($('rules-editor')).lineHeight);
  return Number.isFinite(v) && v > 0 ? v : 20;
}

function setEditorText(text) {
  const ta = $('rules-editor');
  ta.value = text;
  ta.scrollTop = 0;
  ta.scrollLeft = 0;
  state.rules.diagnostics = [];
  renderEditor();
  renderDiagnostics();
}

/** Paints the highlighted copy, the gutter and the line marks. */
function renderEditor() {
  const ta = $('rules-editor');
  const lines = highlightLines(ta.value);
  const marks = lineMarks();
  const code = $('rules-highlight-code');
  const frag = document.createDocumentFragment();
  lines.forEach((toks, i) => {
    const line = el('span', { class: 'code-line' });
    const m = marks.get(i + 1);
    if (m) line.classList.add(m.severity === 'error' ? 'is-error' : 'is-warning');
    for (const t of toks) {
      if (t.cls) line.append(el('span', { class: `tok-${t.cls}`, text: t.text }));
      else line.append(document.createTextNode(t.text));
    }
    frag.append(line);
  });
  code.replaceChildren(frag);
  const gutter = $('rules-gutter-inner');
  const gfrag = document.createDocumentFragment();
  const current = currentLine();
  for (let i = 1; i <= lines.length; i += 1) {
    const g = el('div', { class: 'gutter-line', text: String(i) });
    g.dataset.line = String(i);
    const m = marks.get(i);
    if (m) {
      g.classList.add(m.severity === 'error' ? 'is-error' : 'is-warning');
      g.title = m.message;
    }
    if (i === current) g.classList.add('is-current');
    gfrag.append(g);
  }
  gutter.replaceChildren(gfrag);
  fitEditorHeight(lines.length);
  syncScroll();
}

/** The editor grows with the script (a few spare lines), between 200 and 460 px. */
function fitEditorHeight(lineCount) {
  const lh = editorLineHeight();
  const h = Math.max(200, Math.min(460, Math.round((lineCount + 3) * lh + 22)));
  const box = $('rules-code');
  if (box.dataset.height !== String(h)) {
    box.style.setProperty('height', `${h}px`);
    box.dataset.height = String(h);
  }
}

/** line -> {severity, message} from the last check and the last test's error. */
function lineMarks() {
  const marks = new Map();
  const add = (d) => {
    const line = Number(d && d.line);
    if (!line) return;
    const { severity } = diagnosticKind(d.kind);
    const sev = severity === 'error' ? 'error' : 'warning';
    const prev = marks.get(line);
    if (!prev || (prev.severity !== 'error' && sev === 'error')) marks.set(line, { severity: sev, message: String(d.message || '') });
  };
  state.rules.diagnostics.forEach(add);
  if (state.rules.testError) add(state.rules.testError);
  return marks;
}

function currentLine() {
  const ta = $('rules-editor');
  return ta.value.slice(0, ta.selectionStart).split('\n').length;
}

function updateCurrentLine() {
  const n = currentLine();
  document.querySelectorAll('#rules-gutter-inner .gutter-line.is-current').forEach((g) => { if (Number(g.dataset.line) !== n) g.classList.remove('is-current'); });
  const g = document.querySelector(`#rules-gutter-inner .gutter-line[data-line="${n}"]`);
  if (g) g.classList.add('is-current');
}

function syncScroll() {
  const ta = $('rules-editor');
  $('rules-highlight-code').style.setProperty('transform', `translate(${-ta.scrollLeft}px, ${-ta.scrollTop}px)`);
  $('rules-gutter-inner').style.setProperty('transform', `translateY(${-ta.scrollTop}px)`);
}

/** Inserts text at the selection, keeping the browser's undo history where it can. */
function insertText(ta, text) {
  ta.focus();
  let ok = false;
  try { ok = document.execCommand('insertText', false, text); } catch { ok = false; }
  if (!ok) {
    ta.setRangeText(text, ta.selectionStart, ta.selectionEnd, 'end');
    ta.dispatchEvent(new Event('input', { bubbles: true }));
  }
}

function onEditorKeydown(e) {
  const ta = e.target;
  if (e.key === 'Escape') { state.rules.escapeTab = true; return; }
  if (e.key === 'Tab' && !e.ctrlKey && !e.altKey && !e.metaKey) {
    if (state.rules.escapeTab) { state.rules.escapeTab = false; return; } // let focus move on
    e.preventDefault();
    const { value, selectionStart: s, selectionEnd: end } = ta;
    const lineStart = value.lastIndexOf('\n', s - 1) + 1;
    const multi = value.slice(s, end).includes('\n');
    if (!multi && !e.shiftKey) { insertText(ta, '    '); return; }
    // Indent or dedent every selected line.
    const blockEnd = end > s && value[end - 1] === '\n' ? end - 1 : end;
    const lineEndIdx = value.indexOf('\n', blockEnd);
    const stop = lineEndIdx < 0 ? value.length : lineEndIdx;
    const block = value.slice(lineStart, stop);
    const lines = block.split('\n');
    let firstDelta = 0;
    const changed = lines.map((l, i) => {
      if (!e.shiftKey) { if (i === 0) firstDelta = 4; return `    ${l}`; }
      const n = /^ {0,4}/.exec(l)[0].length;
      if (i === 0) firstDelta = -Math.min(n, s - lineStart);
      return l.slice(n);
    }).join('\n');
    if (changed === block) return;
    ta.setSelectionRange(lineStart, stop);
    insertText(ta, changed);
    const newStart = Math.max(lineStart, s + firstDelta);
    ta.setSelectionRange(multi ? lineStart : newStart, multi ? lineStart + changed.length : newStart);
    return;
  }
  state.rules.escapeTab = false;
  if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey && !e.altKey && !e.shiftKey && !e.isComposing) {
    const { value, selectionStart: s } = ta;
    const lineStart = value.lastIndexOf('\n', s - 1) + 1;
    const before = value.slice(lineStart, s);
    let indent = /^[ \t]*/.exec(before)[0];
    const code = before.replace(/#.*$/, '').trimEnd();
    if (code.endsWith(':')) indent += '    ';
    else if (/^\s*(?:return|pass|break|continue|raise)\b/.test(code)) indent = indent.slice(0, Math.max(0, indent.length - 4));
    e.preventDefault();
    insertText(ta, `\n${indent}`);
  }
}

function onEditorInput() {
  state.rules.testError = null;
  renderEditor();
  scheduleCheck();
  showMessage('rules-save-status', '');
  updateDirty();
}

/** Checks the script once typing has paused (one compile per change, not per keystroke). */
function scheduleCheck(delay = CHECK_DEBOUNCE_MS) {
  clearTimeout(state.rules.checkTimer);
  state.rules.checkSeq += 1;
  const seq = state.rules.checkSeq;
  const status = $('rules-status');
  if (!$('rules-editor').value.trim()) {
    state.rules.diagnostics = [];
    status.dataset.state = 'idle';
    status.textContent = 'No rules: tickets are filed as people send them.';
    renderDiagnostics();
    renderEditor();
    return;
  }
  state.rules.checkTimer = setTimeout(() => runCheck(seq), delay);
}

async function runCheck(seq) {
  if (state.view !== 'admin' && !state.pendingEdits) return;
  if (relayMode() && !state.rules.doc) return;
  const script = $('rules-editor').value;
  const status = $('rules-status');
  status.dataset.state = 'checking';
  status.textContent = 'Checking…';
  let r;
  try {
    r = await call(rulesCommands(relayMode()).check, { script });
  } catch (e) {
    if (seq !== state.rules.checkSeq) return;
    status.dataset.state = 'idle';
    status.textContent = e instanceof LockedError ? '' : `Could not check the rules: ${e.message}`;
    relaySignedOutIf(e);
    return;
  }
  if (seq !== state.rules.checkSeq) return;
  state.rules.diagnostics = r && Array.isArray(r.diagnostics) ? r.diagnostics : [];
  const errors = state.rules.diagnostics.filter((d) => diagnosticKind(d.kind).severity === 'error').length;
  const others = state.rules.diagnostics.length - errors;
  if (r && r.ok === false || errors) {
    status.dataset.state = 'error';
    status.textContent = errors > 1 ? `${errors} errors` : 'Syntax error: the rules cannot run';
  } else if (others) {
    status.dataset.state = 'warning';
    status.textContent = `${others} warning${others === 1 ? '' : 's'}`;
  } else {
    status.dataset.state = 'ok';
    status.textContent = 'No problems found';
  }
  renderDiagnostics();
  renderEditor();
}

function diagButton(d) {
  const k = diagnosticKind(d.kind);
  const line = Number(d.line) || 0;
  const col = Number(d.column) || 0;
  const b = el('button', { type: 'button', class: 'diag' },
    el('span', { class: 'diag-kind', text: k.label }),
    line ? el('span', { class: 'diag-pos', text: `Line ${line}${col ? `, column ${col}` : ''}` }) : null,
    el('span', { class: 'diag-msg', text: String(d.message || '') }));
  b.dataset.severity = k.severity;
  b.dataset.line = String(line);
  b.dataset.column = String(col);
  if (line) b.addEventListener('click', () => jumpTo(line, col || 1)); else b.disabled = true;
  return b;
}

function renderDiagnostics() {
  const list = $('rules-diagnostics');
  list.replaceChildren(...state.rules.diagnostics.map((d) => el('li', {}, diagButton(d))));
  list.hidden = state.rules.diagnostics.length === 0;
}

/** Puts the caret at a 1-based line and column and brings it into view. */
function jumpTo(line, column) {
  if (state.section !== 'rules') showSection('rules');
  const ta = $('rules-editor');
  const off = offsetOf(ta.value, line, column);
  ta.focus({ preventScroll: true });
  ta.setSelectionRange(off, off);
  const lh = editorLineHeight();
  const top = (line - 1) * lh;
  if (top < ta.scrollTop || top + lh > ta.scrollTop + ta.clientHeight - 20) ta.scrollTop = Math.max(0, top - ta.clientHeight / 3);
  const colPx = (column - 1) * (lh * 0.4);
  if (colPx < ta.scrollLeft || colPx > ta.scrollLeft + ta.clientWidth - 60) ta.scrollLeft = Math.max(0, colPx - ta.clientWidth / 2);
  syncScroll();
  updateCurrentLine();
  $('rules-code').scrollIntoView({ block: 'nearest' });
  const lineEl = $('rules-highlight-code').children[line - 1];
  if (lineEl) {
    lineEl.classList.remove('is-flash');
    void lineEl.offsetWidth; // restart the animation
    lineEl.classList.add('is-flash');
    clearTimeout(state.rules.flashTimer);
    state.rules.flashTimer = setTimeout(() => lineEl.classList.remove('is-flash'), 1300);
  }
}

async function saveRules({ quiet = false } = {}) {
  const ta = $('rules-editor');
  const script = ta.value;
  const btn = $('rules-save-btn');
  showMessage('rules-save-error', '');
  showMessage('rules-save-status', '');
  setFieldError('rules', null);
  if (!quiet) setBusy(btn, true, 'Saving…');
  try {
    if (relayMode()) {
      if (!state.rules.doc) {
        showMessage('rules-relay-error', 'Sign in to the relay to save your changes to its rules: they are kept until you do.');
        throw new Error('Sign in to the relay first.');
      }
      const doc = await call('admin_relay_save_rules', { script, version: Number(state.rules.doc.version) || 0 });
      state.rules.doc = doc;
      state.rules.saved = script;
      renderRelay();
      showMessage('rules-save-status', savedMessage(doc));
      return true;
    }
    await call('admin_save_rules', { script });
    state.rules.saved = script;
    if (state.data && state.data.rules) state.data.rules.text = script;
    showMessage('rules-save-status', 'Rules saved. The next ticket runs them.');
    return true;
  } catch (e) {
    if (e instanceof LockedError) throw e;
    relaySignedOutIf(e);
    const msg = (e.fields && e.fields.rules) ? `Not saved: ${e.fields.rules}` : `Not saved: ${e.message}`;
    showMessage('rules-save-error', msg);
    const m = /line (\d+)(?:, column (\d+))?/i.exec(msg);
    if (m && !quiet) jumpTo(Number(m[1]), Number(m[2] || 1));
    return false;
  } finally {
    if (!quiet) setBusy(btn, false);
    updateDirty();
  }
}

// ---- the relay's rules (relay mode) ----------------------------------------------------------

function relayMode() { return !!state.rules.relay; }

/** Relay mode with rules from the relay's own file: they can be tested here, not saved. */
function relayReadOnly() { return relayMode() && !!state.rules.doc && !state.rules.doc.editable; }

function renderRelay() {
  const view = relayView(state.rules.relay, state.rules.doc);
  $('rules-relay').hidden = !view;
  const signedOut = !!view && view.mode === 'signed-out';
  $('rules-editor-card').hidden = signedOut;
  $('rules-try').hidden = signedOut;
  $('rules-examples').hidden = signedOut;
  $('rules-save-btn').hidden = !!view && view.mode === 'read-only';
  document.querySelector('#rules-editor-card .editor-label').textContent = view ? 'rules.py on the relay' : 'rules.py';
  if (!view) return;
  $('rules-relay').dataset.mode = view.mode;
  $('rules-relay-status').dataset.configured = signedOut ? 'false' : 'true';
  $('rules-relay-state').textContent = view.title;
  $('rules-relay-url').textContent = view.url;
  $('rules-relay-detail').textContent = view.detail;
  $('rules-relay-signin').hidden = !signedOut;
  $('rules-relay-actions').hidden = signedOut;
  $('rules-relay-signin-btn').disabled = !$('rules-relay-token').value.trim();
}

/** The relay's document into the editor (edits kept across a lock win over it). */
function applyRelayDoc(doc) {
  state.rules.doc = doc;
  state.rules.relay = { ...state.rules.relay, signed_in: true };
  state.rules.saved = String(doc.script || '');
  const pending = state.rules.pending;
  state.rules.pending = null;
  setEditorText(typeof pending === 'string' ? pending : state.rules.saved);
  state.rules.testError = null;
  showMessage('rules-save-error', '');
  showMessage('rules-save-status', '');
  renderRelay();
  scheduleCheck(0);
  updateDirty();
}

/** A "signed out" answer (the relay refused the token, or it was forgotten): ask for it again. */
function relaySignedOutIf(e) {
  if (!relayMode() || !e || e.kind !== 'relay-signed-out') return false;
  if (rulesDirty()) state.rules.pending = $('rules-editor').value;
  state.rules.doc = null;
  state.rules.relay = { ...state.rules.relay, signed_in: false };
  renderRelay();
  showMessage('rules-relay-error', e.message);
  return true;
}

async function relaySignIn() {
  const input = $('rules-relay-token');
  const btn = $('rules-relay-signin-btn');
  const token = input.value.trim();
  if (!token || btn.dataset.busy === 'true') return;
  showMessage('rules-relay-error', '');
  setBusy(btn, true, 'Signing in…');
  try {
    const doc = await call('admin_relay_sign_in', { token });
    input.value = '';
    input.removeAttribute('aria-invalid');
    applyRelayDoc(doc);
    $('rules-editor').focus({ preventScroll: true });
  } catch (e) {
    if (e instanceof LockedError) return;
    const msg = (e.fields && e.fields.relay_token) || e.message;
    showMessage('rules-relay-error', msg);
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  } finally {
    setBusy(btn, false);
    btn.disabled = !input.value.trim();
  }
}

async function loadRelayRules() {
  try {
    applyRelayDoc(await call('admin_relay_rules'));
  } catch (e) {
    if (e instanceof LockedError) return;
    if (!relaySignedOutIf(e)) showMessage('rules-save-error', `Could not read the relay's rules: ${e.message}`);
  }
}

async function relayReload() {
  if (rulesDirty()) {
    const ok = await confirmDiscard('Reload the rules from the relay?', 'Your unsaved changes to the rules will be lost.');
    if (!ok) return;
  }
  state.rules.pending = null;
  await loadRelayRules();
}

async function relaySignOut() {
  if (rulesDirty()) {
    const ok = await confirmDiscard('Sign out and discard your changes?', 'Your unsaved changes to the rules will be lost.');
    if (!ok) return;
  }
  try { await call('admin_relay_sign_out'); } catch (e) { if (e instanceof LockedError) return; }
  state.rules.doc = null;
  state.rules.pending = null;
  state.rules.relay = { ...state.rules.relay, signed_in: false };
  state.rules.saved = '';
  setEditorText('');
  renderRelay();
  updateDirty();
  $('rules-relay-token').focus();
}

// ---- sample input and Test rules -------------------------------------------------------------

async function loadSample() {
  const btn = $('rules-sample-reset');
  btn.disabled = true;
  try {
    const sample = await call('admin_sample_input');
    $('rules-sample').value = JSON.stringify(sample || {}, null, 2);
    state.rules.sampleLoaded = true;
    showMessage('rules-sample-error', '');
  } catch (e) {
    if (!(e instanceof LockedError)) showMessage('rules-sample-error', `Could not read this PC's details: ${e.message}`);
  } finally {
    btn.disabled = false;
  }
}

function parseSample() {
  const text = $('rules-sample').value;
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) return { error: 'The sample must be a JSON object: { "priority": "Medium", … }.' };
    for (const [k, x] of Object.entries(v)) {
      if (k === 'selections') {
        if (!Array.isArray(x) || x.some((s) => typeof s !== 'string')) return { error: '"selections" must be a list of labels: ["This is an emergency", "Call me"].' };
      } else if (typeof x !== 'string' && !(x === null && k.startsWith('input_'))) {
        return { error: `"${k}" must be text in quotes, like "${k}": "${x === null || x === undefined ? '' : String(x)}".` };
      }
    }
    return { value: v };
  } catch (err) {
    const m = /position (\d+)/.exec(String(err.message));
    let where = '';
    if (m) where = ` (line ${text.slice(0, Number(m[1])).split('\n').length})`;
    return { error: `The sample is not valid JSON${where}. Check the quotes and commas.` };
  }
}

async function testRules() {
  const btn = $('rules-test-btn');
  if (btn.disabled) return;
  const sample = parseSample();
  if (sample.error) {
    showMessage('rules-sample-error', sample.error);
    $('rules-sample').setAttribute('aria-invalid', 'true');
    $('rules-sample').focus();
    return;
  }
  showMessage('rules-sample-error', '');
  $('rules-sample').removeAttribute('aria-invalid');
  setBusy(btn, true, 'Testing…');
  let r;
  try {
    r = await call(rulesCommands(relayMode()).test, { script: $('rules-editor').value, input: sample.value });
  } catch (e) {
    if (e instanceof LockedError) return;
    if (relaySignedOutIf(e)) { setBusy(btn, false); return; }
    if (/invalid args `input`/i.test(e.message)) {
      // The sample did not fit the rules' input (a number where text belongs, ...).
      showMessage('rules-sample-error', `The sample doesn't fit: ${e.message.replace(/^.*?:\s*/, '')}`);
      $('rules-sample').setAttribute('aria-invalid', 'true');
      setBusy(btn, false);
      return;
    }
    r = { error: { line: 0, column: 0, message: e.message, kind: 'Limit' }, exception: e.message, variables: {}, changed: [], warnings: [] };
  } finally {
    setBusy(btn, false);
  }
  renderTestResult(r || {}, sample.value);
}

function valueText(v) {
  if (Array.isArray(v)) return v.map(String).join('\n');
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function renderTestResult(r, input) {
  $('rules-result-empty').hidden = true;
  $('rules-result-body').hidden = false;
  const err = r.error && typeof r.error === 'object' ? r.error : null;
  state.rules.testError = err && Number(err.line) ? err : null;
  renderEditor();

  // The error, with a way to it.
  $('rules-error').hidden = !err;
  if (err) {
    const k = diagnosticKind(err.kind);
    const line = Number(err.line) || 0;
    const col = Number(err.column) || 0;
    $('rules-error-title').textContent = line ? `${k.label} on line ${line}${col ? `, column ${col}` : ''}` : k.label;
    $('rules-error-text').textContent = String(err.message || '');
    const jump = $('rules-error-jump');
    jump.hidden = !line;
    jump.textContent = line ? `Go to line ${line}` : '';
    jump.dataset.line = String(line);
    jump.dataset.column = String(col || 1);
  }
  const exception = typeof r.exception === 'string' && r.exception ? r.exception : '';
  $('rules-exception').hidden = !exception || !!err;
  $('rules-exception-text').textContent = exception ? `People would see: "${exception}". What they typed is kept.` : '';

  const warnings = Array.isArray(r.warnings) ? r.warnings : [];
  const wl = $('rules-warnings');
  wl.replaceChildren(...warnings.map((d) => el('li', {}, diagButton(d))));
  wl.hidden = !warnings.length;

  const changed = new Set(Array.isArray(r.changed) ? r.changed : []);
  $('rules-changed-summary').textContent = changed.size
    ? `Changed: ${[...changed].join(', ')}.`
    : err ? 'Nothing changed: the script stopped with an error.' : 'No variable changed: the ticket is filed as sent.';

  const vars = r.variables && typeof r.variables === 'object' ? { ...r.variables } : {};
  for (const k of RULE_READ_WRITE) if (!(k in vars) && k in r) vars[k] = r[k];
  const body = $('rules-variables-body');
  const roBody = $('rules-readonly-body');
  body.replaceChildren();
  roBody.replaceChildren();
  const row = (target, name, value, { readOnly = false } = {}) => {
    const isChanged = changed.has(name);
    const tr = el('tr', { class: `${isChanged ? 'is-changed' : ''}${readOnly ? ' is-readonly' : ''}`.trim() || null, id: `rules-var-${name}` });
    tr.dataset.name = name;
    const th = el('th', { scope: 'row', text: name });
    if (isChanged) th.append(el('span', { class: 'changed-badge', text: 'changed' }));
    const td = el('td');
    const text = valueText(value);
    if (text) td.append(document.createTextNode(text)); else td.append(el('span', { class: 'empty-value', text: '(empty)' }));
    if (isChanged && input && name in input) {
      const was = valueText(input[name]);
      td.append(el('span', { class: 'was', text: was ? `was: ${was}` : 'was: (empty)' }));
    }
    tr.append(th, td);
    target.append(tr);
  };
  for (const k of RULE_READ_WRITE) row(body, k, vars[k]);
  row(body, 'exception', exception);
  const rest = Object.keys(vars).filter((k) => !RULE_READ_WRITE.includes(k) && k !== 'exception' && k !== 'message');
  const order = [...RULE_READ_ONLY.filter((k) => rest.includes(k)), ...rest.filter((k) => !RULE_READ_ONLY.includes(k)).sort()];
  for (const k of order) row(roBody, k, vars[k], { readOnly: RULE_READ_ONLY.includes(k) });
  $('rules-readonly').hidden = !order.length;
  $('rules-readonly-summary').textContent = `Read-only values (${order.length}): what the script saw`;
  const printed = typeof r.printed === 'string' ? r.printed : '';
  $('rules-printed').textContent = printed;
  $('rules-printed-box').hidden = !printed;
  $('rules-result').dataset.state = err ? 'error' : exception ? 'blocked' : 'ok';
  $('rules-result').scrollIntoView({ block: 'nearest' });
}

// ---- examples menu -------------------------------------------------------------------------------

function buildExamplesMenu() {
  const menu = $('rules-examples-menu');
  menu.replaceChildren();
  for (const ex of EXAMPLES) {
    const item = el('button', { type: 'button', class: 'menu-item', role: 'menuitem', id: `example-${ex.id}`, tabindex: '-1' },
      el('span', { class: 'menu-item-title', text: ex.title }),
      el('span', { class: 'menu-item-desc', text: ex.desc }));
    item.addEventListener('click', () => insertExample(ex));
    menu.append(item);
  }
}

function openExamples() {
  $('rules-examples-menu').hidden = false;
  $('rules-examples-btn').setAttribute('aria-expanded', 'true');
  const first = $('rules-examples-menu').querySelector('.menu-item');
  if (first) first.focus();
}

function closeExamples(returnFocus = false) {
  const menu = $('rules-examples-menu');
  if (menu.hidden) return;
  menu.hidden = true;
  $('rules-examples-btn').setAttribute('aria-expanded', 'false');
  if (returnFocus) $('rules-examples-btn').focus();
}

function insertExample(ex) {
  closeExamples();
  const ta = $('rules-editor');
  const current = ta.value;
  let startLine = 1;
  ta.focus({ preventScroll: true });
  if (!current.trim()) {
    ta.setSelectionRange(0, current.length);
    insertText(ta, ex.code);
  } else {
    const sep = current.endsWith('\n\n') ? '' : current.endsWith('\n') ? '\n' : '\n\n';
    ta.setSelectionRange(current.length, current.length);
    startLine = (current + sep).split('\n').length;
    insertText(ta, sep + ex.code);
  }
  jumpTo(startLine, 1);
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

function wireEvents() {
  // Lock screen
  $('setup-form').addEventListener('submit', (e) => { e.preventDefault(); submitSetup(); });
  $('setup-password').addEventListener('input', () => { updateStrength('setup'); if ($('setup-password').getAttribute('aria-invalid') || $('setup-confirm').value) checkNewPassword('setup'); });
  $('setup-confirm').addEventListener('input', () => checkNewPassword('setup'));
  $('unlock-form').addEventListener('submit', (e) => { e.preventDefault(); submitUnlock(); });
  $('unlock-password').addEventListener('input', () => { if ($('unlock-password').getAttribute('aria-invalid')) setInputError('unlock-password', ''); });

  // Navigation
  $('admin-nav').addEventListener('click', (e) => {
    const b = e.target.closest('.nav-item');
    if (b) showSection(b.dataset.section, { focus: false });
  });
  $('admin-nav').addEventListener('keydown', (e) => {
    const items = Array.from(document.querySelectorAll('.nav-item'));
    const i = items.indexOf(document.activeElement);
    if (i < 0) return;
    const next = { ArrowDown: i + 1, ArrowRight: i + 1, ArrowUp: i - 1, ArrowLeft: i - 1, Home: 0, End: items.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    const t = items[(next + items.length) % items.length];
    t.focus();
    showSection(t.dataset.section);
  });

  // Simple fields: one delegated handler for every [data-key] input.
  const content = $('content');
  const onEdit = (e) => {
    const t = e.target;
    const key = t.dataset && t.dataset.key;
    if (!key || !FIELDS[key] || ['list', 'groups', 'logo'].includes(FIELDS[key].kind)) return;
    if (e.type === 'input' && ['bool', 'radio', 'select'].includes(FIELDS[key].kind)) return; // 'change' handles these
    readField(key, t);
    if (key === 'branding.accent_color') {
      const hex = normalizeAccent(t.value);
      if (hex) $('branding-accent_color-picker').value = hex;
    }
    if (key === 'hotkey') renderHotkeyKeys();
    onFieldChanged(key);
  };
  content.addEventListener('input', onEdit);
  content.addEventListener('change', onEdit);
  $('branding-accent_color-picker').addEventListener('input', (e) => {
    const v = e.target.value.toLowerCase();
    $('branding-accent_color').value = v;
    setPath(state.draft, 'branding.accent_color', v);
    onFieldChanged('branding.accent_color');
  });
  $('branding-accent_color').addEventListener('blur', (e) => {
    const hex = normalizeAccent(e.target.value);
    if (hex && hex !== e.target.value) { e.target.value = hex; setPath(state.draft, 'branding.accent_color', hex); onFieldChanged('branding.accent_color'); }
  });
  $('screenshots-max_total_bytes').addEventListener('blur', (e) => {
    const bytes = mbTextToBytes(e.target.value);
    if (bytes !== null) e.target.value = bytesToMbText(bytes);
  });

  // Lists
  $('form-checkboxes-add').addEventListener('click', () => {
    const list = getPath(state.draft, 'form.checkboxes');
    list.push('');
    renderCheckboxList(`form-checkboxes-item-${list.length - 1}`);
    onFieldChanged('form.checkboxes');
  });
  $('form-radio_groups-add').addEventListener('click', () => {
    const groups = getPath(state.draft, 'form.radio_groups');
    groups.push({ label: '', options: ['', ''] });
    renderRadioGroups(`radio-group-${groups.length - 1}-label`);
    onFieldChanged('form.radio_groups');
  });

  // Hotkey
  const hk = $('hotkey-capture');
  hk.addEventListener('click', () => { if (hk.dataset.capturing === 'true') stopHotkeyCapture(); else startHotkeyCapture(); });
  hk.addEventListener('keydown', onHotkeyKeydown);
  hk.addEventListener('blur', () => stopHotkeyCapture());

  // Logo
  $('branding-logo-file').addEventListener('change', onLogoFile);
  $('branding-logo-remove').addEventListener('click', () => {
    setPath(state.draft, 'branding.logo_data_url', '');
    renderLogo();
    onFieldChanged('branding.logo_data_url');
    $('branding-logo-file').focus();
  });

  // API key
  const keyInput = $('api-key-input');
  keyInput.addEventListener('input', () => {
    $('api-key-save-btn').disabled = !keyInput.value.trim();
    if (keyInput.getAttribute('aria-invalid')) setInputError('api-key-input', '');
    showMessage('api-key-saved', '');
  });
  keyInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); if (keyInput.value.trim()) saveApiKey(); } });
  $('api-key-save-btn').addEventListener('click', () => saveApiKey());

  // Integration Test
  $('run-test-btn').addEventListener('click', () => runTest(false));
  $('run-test-send-btn').addEventListener('click', () => runTest(true));
  $('test-email').addEventListener('input', () => {
    const v = $('test-email').value.trim();
    setInputError('test-email', v && !isValidEmail(v) && v.includes('@') && /\.[^.@]{2,}$/.test(v) ? 'Use an email address like someone@yourcustomer.com.' : '');
  });
  $('test-email').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); runTest(false); } });

  // Updates
  $('update-check-btn').addEventListener('click', () => checkUpdates());
  $('update-install-btn').addEventListener('click', () => installUpdate());

  // Password change
  $('change-password-form').addEventListener('submit', (e) => { e.preventDefault(); changePassword(); });
  $('change-password').addEventListener('input', () => { updateStrength('change'); if ($('change-password').getAttribute('aria-invalid') || $('change-confirm').value) checkNewPassword('change'); });
  $('change-confirm').addEventListener('input', () => checkNewPassword('change'));

  // Rules
  const ta = $('rules-editor');
  ta.addEventListener('keydown', onEditorKeydown);
  ta.addEventListener('input', onEditorInput);
  ta.addEventListener('scroll', syncScroll);
  for (const ev of ['keyup', 'click', 'focus']) ta.addEventListener(ev, updateCurrentLine);
  $('rules-gutter').addEventListener('wheel', (e) => { ta.scrollTop += e.deltaY; }, { passive: true });
  $('rules-save-btn').addEventListener('click', () => saveRules());
  $('rules-relay-token').addEventListener('input', () => {
    $('rules-relay-signin-btn').disabled = !$('rules-relay-token').value.trim();
    if ($('rules-relay-token').getAttribute('aria-invalid')) { $('rules-relay-token').removeAttribute('aria-invalid'); showMessage('rules-relay-error', ''); }
  });
  $('rules-relay-token').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); relaySignIn(); } });
  $('rules-relay-signin-btn').addEventListener('click', () => relaySignIn());
  $('rules-relay-signout').addEventListener('click', () => relaySignOut());
  $('rules-relay-reload').addEventListener('click', () => relayReload());
  $('rules-test-btn').addEventListener('click', () => testRules());
  $('rules-sample-reset').addEventListener('click', () => loadSample());
  $('rules-sample').addEventListener('input', () => { if ($('rules-sample').getAttribute('aria-invalid')) { showMessage('rules-sample-error', ''); $('rules-sample').removeAttribute('aria-invalid'); } });
  $('rules-error-jump').addEventListener('click', (e) => jumpTo(Number(e.currentTarget.dataset.line), Number(e.currentTarget.dataset.column) || 1));
  buildExamplesMenu();
  $('rules-examples-btn').addEventListener('click', () => { if ($('rules-examples-menu').hidden) openExamples(); else closeExamples(); });
  $('rules-examples-menu').addEventListener('keydown', (e) => {
    const items = Array.from($('rules-examples-menu').querySelectorAll('.menu-item'));
    const i = items.indexOf(document.activeElement);
    if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); closeExamples(true); return; }
    if (e.key === 'Tab') { closeExamples(); return; }
    const next = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: items.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    items[(next + items.length) % items.length].focus();
  });
  document.addEventListener('pointerdown', (e) => {
    if (!$('rules-examples-menu').hidden && !e.target.closest('#rules-examples')) closeExamples();
  });

  // Footer
  $('save-btn').addEventListener('click', () => save());
  $('cancel-btn').addEventListener('click', () => cancelEdits());
  $('lock-btn').addEventListener('click', () => lockNow());
  $('confirm-ok').addEventListener('click', () => closeConfirm(true));
  $('confirm-cancel').addEventListener('click', () => closeConfirm(false));
  $('confirm-dialog').addEventListener('cancel', (e) => { e.preventDefault(); closeConfirm(false); });

  // Ctrl+S / Cmd+S saves from anywhere in the settings.
  document.addEventListener('keydown', (e) => {
    if (isModChord(e, 's', 'S')) {
      if (state.view !== 'admin') return;
      e.preventDefault();
      save();
    }
  });
}

async function start() {
  if (!startPage(wireEvents, 'These settings have to be opened from the Helpdesk Button app (tray menu › Settings…).')) return;
  await showLock();
}

whenReady(start);
