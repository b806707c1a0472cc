// Helpdesk Button: the admin window's settings as data: dotted keys, the client-side checks of
// each field (endpoint, hotkey, sizes, lists, update URLs), the password strength. Pure; admin.js
// wires them to the page, and tests import them.

import { isValidEmail, imageDataUrlCheck, normalizeAccent } from './common.js';

export const VALIDATE_DEBOUNCE_MS = 250;
export const CHECK_DEBOUNCE_MS = 400;
export const PASSWORD_MIN = 8;
export const LOGO_MAX_BYTES = 200 * 1024;
export const MB = 1024 * 1024;

/** The value at a dotted key, or undefined. */
export function getPath(obj, key) {
  let cur = obj;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = cur[part];
  }
  return cur;
}

/** Sets the value at a dotted key, creating objects on the way. */
export function setPath(obj, key, value) {
  const parts = key.split('.');
  let cur = obj;
  for (let i = 0; i < parts.length - 1; i += 1) {
    if (cur[parts[i]] === null || typeof cur[parts[i]] !== 'object') cur[parts[i]] = {};
    cur = cur[parts[i]];
  }
  cur[parts[parts.length - 1]] = value;
}

/** `atera.endpoint` -> `atera-endpoint`: the id of a setting's input. */
export const idOf = (key) => key.replace(/\./g, '-');

/** Whether `key` is locked by one of the policy's dotted keys (itself or a parent). */
export function isLockedKey(key, locked) {
  if (!Array.isArray(locked)) return false;
  return locked.some((l) => typeof l === 'string' && (l === key || key.startsWith(`${l}.`)));
}

/** Only images the backend accepts as a logo. */
export const isLogoDataUrl = imageDataUrlCheck(['png', 'jpeg', 'svg+xml']);

/** A rough strength estimate for the hint under a new password: {score 0..4, text}. */
export function passwordStrength(pw) {
  const p = typeof pw === 'string' ? pw : '';
  const len = Array.from(p).length;
  if (len === 0) return { score: 0, text: `At least ${PASSWORD_MIN} characters` };
  if (len < PASSWORD_MIN) {
    const left = PASSWORD_MIN - len;
    return { score: 0, text: `${left} more character${left === 1 ? '' : 's'}` };
  }
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(p)).length;
  let score = 1;
  if (len >= 12) score += 1;
  if (classes >= 3) score += 1;
  if (len >= 16 || (len >= 12 && classes >= 3 && /\s/.test(p))) score += 1;
  const lower = p.toLowerCase();
  if (/^(.)\1+$/.test(p) || /^(?:password|passwort|qwerty|letmein|admin)/.test(lower) || /^(?:0123456789|123456789|12345678|abcdefgh)/.test(lower)) score = 1;
  score = Math.min(4, score);
  const text = ['', 'Weak: a longer password is stronger', 'Fair', 'Good', 'Strong'][score];
  return { score, text };
}

const MODIFIER_NAMES = { ctrl: 'Ctrl', control: 'Ctrl', alt: 'Alt', option: 'Alt', shift: 'Shift', super: 'Super', meta: 'Super', cmd: 'Super', command: 'Super', win: 'Super', cmdorctrl: 'CmdOrCtrl', commandorcontrol: 'CmdOrCtrl' };
const LONE_KEYS = /^(?:F([1-9]|1\d|2[0-4])|Pause|ScrollLock|PrintScreen)$/;
const NAMED_KEYS = new Set(['Space', 'Enter', 'Tab', 'Backspace', 'Escape', 'Insert', 'Delete', 'Home', 'End', 'PageUp', 'PageDown',
  'ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'Up', 'Down', 'Left', 'Right', 'Pause', 'ScrollLock', 'PrintScreen',
  'Backquote', 'Minus', 'Equal', 'BracketLeft', 'BracketRight', 'Backslash', 'Semicolon', 'Quote', 'Comma', 'Period', 'Slash',
  'NumpadAdd', 'NumpadSubtract', 'NumpadMultiply', 'NumpadDivide', 'NumpadDecimal', 'NumpadEnter']);

function normalizeKeyName(k) {
  if (/^[a-z]$/i.test(k)) return k.toUpperCase();
  if (/^\d$/.test(k)) return k;
  let m = /^f(\d{1,2})$/i.exec(k);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 24) return `F${Number(m[1])}`;
  m = /^numpad(\d)$/i.exec(k);
  if (m) return `Numpad${m[1]}`;
  for (const n of NAMED_KEYS) if (n.toLowerCase() === k.toLowerCase()) return n;
  return null;
}

/**
 * The combination a keydown event stands for (`Ctrl+Shift+F1`), null while only modifiers are
 * held, or {error} for a key the app can't use as a hotkey.
 */
export function hotkeyFromEvent(e) {
  const code = String(e.code || '');
  if (/^(?:Control|Shift|Alt|Meta|OS)(?:Left|Right)?$/.test(code) || ['Control', 'Shift', 'Alt', 'Meta', 'OS', 'AltGraph'].includes(e.key)) return null;
  let key = null;
  let m;
  if ((m = /^Key([A-Z])$/.exec(code))) key = m[1];
  else if ((m = /^Digit(\d)$/.exec(code))) key = m[1];
  else key = normalizeKeyName(code) || (e.key && e.key.length === 1 ? normalizeKeyName(e.key) : null);
  if (!key) return { error: `The ${e.key || code} key can't be used in a hotkey.` };
  const parts = [];
  if (e.ctrlKey) parts.push('Ctrl');
  if (e.altKey) parts.push('Alt');
  if (e.shiftKey) parts.push('Shift');
  if (e.metaKey) parts.push('Super');
  parts.push(key);
  return { hotkey: parts.join('+') };
}

/** The message for a hotkey the app can't register, or null when it looks usable. */
export function hotkeyProblem(value) {
  const s = typeof value === 'string' ? value.trim() : '';
  if (!s) return 'Press a key combination, like Ctrl+Shift+F1.';
  const parts = s.split('+').map((x) => x.trim());
  if (parts.some((x) => !x)) return `"${s}" has an empty part: write it like Ctrl+Shift+F1.`;
  const key = parts[parts.length - 1];
  const mods = parts.slice(0, -1);
  for (const mod of mods) {
    if (!MODIFIER_NAMES[mod.toLowerCase()]) {
      return normalizeKeyName(mod) ? 'Use one key, plus Ctrl, Alt, Shift or Super.' : `"${mod}" is not a modifier: use Ctrl, Alt, Shift or Super.`;
    }
  }
  if (MODIFIER_NAMES[key.toLowerCase()]) return 'Add a key after the modifiers, like Ctrl+Shift+F1.';
  const k = normalizeKeyName(key);
  if (!k) return `"${key}" is not a key the app knows: use a letter, a digit or F1–F24.`;
  const strong = mods.some((m) => MODIFIER_NAMES[m.toLowerCase()] !== 'Shift');
  if (!strong && !LONE_KEYS.test(k)) return `Add Ctrl, Alt or Super: ${mods.length ? 'Shift+' : ''}${k} alone would fire while people type.`;
  return null;
}

/** Bytes as the MB text shown in the size field (1048576 -> "1", 1572864 -> "1.5"). */
export function bytesToMbText(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n)) return '';
  return String(Math.round((n / MB) * 100) / 100);
}

/** The MB text typed by the admin as bytes, or null when it is not a number. */
export function mbTextToBytes(text) {
  const s = String(text).trim().replace(',', '.');
  if (!/^\d+(?:\.\d+)?$|^\.\d+$/.test(s)) return null;
  return Math.round(Number(s) * MB);
}

/** Client-side shape checks of the settings (the backend's admin_validate has the last word). */
export function clientProblem(key, value) {
  const str = typeof value === 'string' ? value.trim() : '';
  switch (key) {
    case 'atera.endpoint':
      return str ? null : 'Enter the Atera address, like app.atera.com.';
    case 'atera.fallback_contact_email':
      return !str || isValidEmail(str) ? null : 'Use an email address like frontdesk@yourcompany.com.';
    case 'atera.defaults.status':
      return str ? null : 'Enter a status, like Open.';
    case 'hotkey':
      return hotkeyProblem(value);
    case 'screenshots.max_total_bytes': {
      const n = Number(value);
      if (value === null || !Number.isFinite(n)) return 'Enter a size in MB, like 1 or 2.5.';
      if (n < 0.05 * MB) return 'Use at least 0.05 MB: smaller pictures are unreadable.';
      if (n > 50 * MB) return 'Use at most 50 MB.';
      return null;
    }
    case 'branding.company_name':
      return Array.from(str).length > 80 ? 'Keep the name under 80 characters.' : null;
    case 'branding.accent_color':
      return normalizeAccent(value) ? null : 'Use a colour like #2563eb (a # and six hex digits).';
    case 'branding.logo_data_url':
      return !value || isLogoDataUrl(value) ? null : 'Use a PNG, JPEG or SVG image.';
    case 'support.phone':
      if (!str) return null;
      if (!/^[0-9+()\-.\s/]+(?:\s*(?:ext\.?|x)\s*\d+)?$/i.test(str)) return 'Use digits, spaces and + ( ) - only, like +1 555 010 2030.';
      return (str.match(/\d/g) || []).length >= 3 ? null : 'That is too short for a phone number.';
    case 'support.email':
      return !str || isValidEmail(str) ? null : 'Use an email address like help@yourcompany.com.';
    case 'support.url': {
      if (!str) return null;
      if (!/^https?:\/\//i.test(str)) return 'Start the address with https://, like https://support.yourcompany.com.';
      try {
        const u = new URL(str);
        if (!u.hostname || !u.hostname.includes('.') && u.hostname !== 'localhost') return 'Check the address: it needs a full host name, like support.yourcompany.com.';
        if (/\s/.test(str)) return 'Remove the spaces from the address.';
      } catch {
        return 'Check the address: it should look like https://support.yourcompany.com.';
      }
      return null;
    }
    case 'updates.stable_url':
      return manifestUrlProblem(value, 'stable');
    case 'updates.beta_url':
      return manifestUrlProblem(value, 'beta');
    case 'updates.check_hours':
      return checkHoursProblem(value);
    case 'form.checkboxes':
      return listProblem(value, 'Checkbox');
    case 'form.radio_groups': {
      if (!Array.isArray(value)) return null;
      for (let g = 0; g < value.length; g += 1) {
        const group = value[g] || {};
        const name = `Group ${g + 1}`;
        if (!String(group.label || '').trim()) return `${name} needs a question, like "Who is affected?".`;
        const opts = Array.isArray(group.options) ? group.options : [];
        if (opts.length < 2) return `${name} ("${String(group.label).trim()}") needs at least two options to choose from.`;
        const p = listProblem(opts, 'Option', `${name}: `);
        if (p) return p;
      }
      return null;
    }
    default:
      return null;
  }
}

export const MAX_CHECK_HOURS = 168;

/** Plain http is allowed for this computer only (a local test server), like the backend. */
function isLoopbackHost(host) {
  const h = String(host || '').toLowerCase();
  return h === 'localhost' || h === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(h);
}

/** An update manifest URL: empty (no updates on this channel), https, or http to this computer. */
function manifestUrlProblem(value, channel) {
  const str = typeof value === 'string' ? value.trim() : '';
  if (!str) return null;
  const example = `https://updates.example.com/helpdesk-button/${channel}/latest.json`;
  const useHttps = `Use an https:// address, like ${example}`;
  if (/\s/.test(str)) return 'Remove the spaces from the address.';
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(str);
  if (!m) return `${useHttps}.`;
  let url;
  try {
    url = new URL(str);
  } catch {
    return `Check the address: it should look like ${example}.`;
  }
  const scheme = m[1].toLowerCase();
  if (scheme === 'https') return url.hostname ? null : `Check the address: it should look like ${example}.`;
  if (scheme === 'http') {
    return isLoopbackHost(url.hostname) ? null : `Plain http is only allowed for this computer (http://127.0.0.1 or http://localhost). ${useHttps}.`;
  }
  return `${useHttps}, not ${scheme}://.`;
}

/** Hours between scheduled update checks: a whole number from 1 to 168. */
function checkHoursProblem(value) {
  if (value === null || value === undefined || String(value).trim() === '') return `Enter a number of hours from 1 to ${MAX_CHECK_HOURS}, like 6.`;
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n)) return `Use a whole number of hours from 1 to ${MAX_CHECK_HOURS}, like 6.`;
  if (n < 1 || n > MAX_CHECK_HOURS) return `Use 1 to ${MAX_CHECK_HOURS} hours (${MAX_CHECK_HOURS} is a week); 6 is the default.`;
  return null;
}

function listProblem(list, noun, prefix = '') {
  if (!Array.isArray(list)) return null;
  const seen = new Map();
  for (let i = 0; i < list.length; i += 1) {
    const label = String(list[i] ?? '').trim();
    if (!label) return `${prefix}${noun} ${i + 1} is empty: type a label or remove it.`;
    if (Array.from(label).length > 120) return `${prefix}${noun} ${i + 1} is too long: keep labels under 120 characters.`;
    const k = label.toLowerCase();
    if (seen.has(k)) return `${prefix}${noun} ${i + 1} repeats ${noun.toLowerCase()} ${seen.get(k) + 1} ("${label}").`;
    seen.set(k, i);
  }
  return null;
}

/** Which items of a label list are invalid (empty or duplicate), as a Set of indexes. */
export function invalidListItems(list) {
  const bad = new Set();
  const seen = new Map();
  (Array.isArray(list) ? list : []).forEach((x, i) => {
    const k = String(x ?? '').trim().toLowerCase();
    if (!k) { bad.add(i); return; }
    if (seen.has(k)) bad.add(i); else seen.set(k, i);
  });
  return bad;
}
