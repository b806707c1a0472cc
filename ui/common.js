// Helpdesk Button: the helpers the three windows share (form.js, admin.js, tickets.js).
//
// Plain ES module, no build step, imported with `import { … } from './common.js'`. Same rules as
// the pages: it runs inside the Tauri webview under a strict CSP (no inline scripts or styles),
// dynamic styles go through CSSOM only, and text is set with textContent, never parsed as HTML.
// Only the functions that touch the DOM or the Tauri globals need a browser; the rest are pure.

// ---------------------------------------------------------------------------------------------
// DOM
// ---------------------------------------------------------------------------------------------

export const $ = (id) => document.getElementById(id);

/**
 * A new element. `props`: `text` sets textContent, `class` the class name, a non-string value of
 * a DOM property (`checked`, `disabled`, …) is assigned, anything else becomes an attribute
 * (`true` an empty one); undefined, null and false are skipped. Falsy children are skipped.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = String(v);
    else if (k === 'class') node.className = v;
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

/** Shows the view named `view` and hides the others; `views` maps element ids to view names. */
export function showViews(view, views) {
  document.body.dataset.view = view;
  for (const [id, name] of Object.entries(views)) $(id).hidden = name !== view;
}

/** Shows `url` in an <img>, or hides it (and drops its src) when there is none. */
export function showImage(img, url) {
  if (url) {
    img.src = url;
    img.hidden = false;
  } else {
    img.removeAttribute('src');
    img.hidden = true;
  }
}

/** Runs `start` once the page's DOM is ready; nothing when there is no browser around. */
export function whenReady(start) {
  if (typeof document === 'undefined' || typeof window === 'undefined') return;
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
  else start();
}

// ---------------------------------------------------------------------------------------------
// The Tauri bridge
// ---------------------------------------------------------------------------------------------

let tauri = null;

/**
 * The start of every page: picks up window.__TAURI__, then wires the page's events (`wire`).
 * Outside the app, `notInApp` goes into #loading-view. True when the page runs inside the app.
 */
export function startPage(wire, notInApp) {
  tauri = window.__TAURI__ || null;
  wire();
  const inApp = !!(tauri && tauri.core);
  if (!inApp) $('loading-view').textContent = notInApp;
  return inApp;
}

/** A backend command; rejects like one when the page is not running inside the app. */
export function invoke(cmd, args) {
  if (!tauri || !tauri.core) return Promise.reject({ kind: 'internal', message: 'The Helpdesk Button app is not running this page.' });
  return args === undefined ? tauri.core.invoke(cmd) : tauri.core.invoke(cmd, args);
}

/** Listens to a backend event. Events are an optimisation: the windows work without them. */
export async function listen(name, cb) {
  try {
    if (tauri && tauri.event && typeof tauri.event.listen === 'function') {
      await tauri.event.listen(name, cb);
    }
  } catch { /* the window works without events */ }
}

const INTERNAL_MESSAGE = 'Something went wrong inside the app.';

/** Normalise whatever invoke() rejected with into {kind, message, fields, retryAfterMs}. */
export function normalizeError(err) {
  if (err && typeof err === 'object') {
    const kind = typeof err.kind === 'string' ? err.kind : 'internal';
    const message = typeof err.message === 'string' && err.message.trim() ? err.message.trim() : INTERNAL_MESSAGE;
    const fields = err.fields && typeof err.fields === 'object' ? err.fields : {};
    const retry = Number(err.retry_after_ms);
    return { kind, message, fields, retryAfterMs: Number.isFinite(retry) && retry > 0 ? retry : 0 };
  }
  if (typeof err === 'string' && err) return { kind: 'internal', message: err, fields: {}, retryAfterMs: 0 };
  return { kind: 'internal', message: INTERNAL_MESSAGE, fields: {}, retryAfterMs: 0 };
}

// ---------------------------------------------------------------------------------------------
// Keyboard
// ---------------------------------------------------------------------------------------------

export function isMac() {
  const p = (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || '';
  return /mac/i.test(p);
}

/** A keydown that belongs to an input method composing text (never a shortcut). */
export const isComposing = (e) => e.isComposing || e.keyCode === 229;

/** Ctrl (⌘ on a Mac) plus one of `keys`, without Alt or Shift: Ctrl+Enter, Ctrl+S, … */
export const isModChord = (e, ...keys) => (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && keys.includes(e.key);

export const isEscape = (e) => e.key === 'Escape' || e.key === 'Esc';

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

const EMAIL_RE = /^[^\s@]+@(?:[^\s@.]+\.)+[^\s@.]{2,}$/u;

/** `something@domain.tld`, after trimming. */
export function isValidEmail(value) {
  return typeof value === 'string' && EMAIL_RE.test(value.trim());
}

/** A check for base64 `data:image/<type>` URLs whose type is one of `types` (`png`, `svg+xml`, …). */
export function imageDataUrlCheck(types) {
  return (s) => {
    if (typeof s !== 'string') return false;
    const m = /^data:image\/([a-z+]+);base64,[A-Za-z0-9+/=\s]+$/u.exec(s);
    return !!m && types.includes(m[1]);
  };
}

/** Only images the backend made: data:image/... URLs. */
export const isImageDataUrl = imageDataUrlCheck(['png', 'jpeg', 'jpg', 'webp', 'gif', 'bmp', 'svg+xml']);

// ---------------------------------------------------------------------------------------------
// Branding: the accent colour and the company's title
// ---------------------------------------------------------------------------------------------

/** `#rrggbb` (case-insensitive), lower-cased, or null. */
export function normalizeAccent(value) {
  if (typeof value !== 'string') return null;
  const s = value.trim();
  return /^#[0-9a-fA-F]{6}$/.test(s) ? s.toLowerCase() : null;
}

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
function rgbToHex([r, g, b]) {
  const h = (x) => Math.max(0, Math.min(255, Math.round(x))).toString(16).padStart(2, '0');
  return `#${h(r)}${h(g)}${h(b)}`;
}
function luminance([r, g, b]) {
  const f = (c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
}
export function contrastRatio(a, b) {
  const la = luminance(hexToRgb(a)); const lb = luminance(hexToRgb(b));
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}
function mix(a, b, t) {
  const x = hexToRgb(a); const y = hexToRgb(b);
  return rgbToHex(x.map((c, i) => c + (y[i] - c) * t));
}

/**
 * The colours derived from one accent: text on the accent, an "ink" version readable on white
 * (links, focus rings), a hover shade, soft tints and a border.
 */
export function accentPalette(accent) {
  const base = normalizeAccent(accent) || '#2563eb';
  const onAccent = contrastRatio(base, '#ffffff') >= 3 ? '#ffffff' : '#111827';
  let ink = base;
  for (let t = 0.1; contrastRatio(ink, '#ffffff') < 4.5 && t <= 1; t += 0.1) ink = mix(base, '#000000', t);
  return {
    accent: base,
    onAccent,
    ink,
    strong: mix(base, '#000000', 0.15),
    soft: mix(base, '#ffffff', 0.9),
    softer: mix(base, '#ffffff', 0.95),
    ring: mix(ink, '#ffffff', 0.35),
    border: mix(base, '#ffffff', 0.75),
  };
}

/** The custom properties of base.css that follow the accent, and the palette colour of each. */
export const ACCENT_PROPERTIES = {
  '--accent': 'accent',
  '--on-accent': 'onAccent',
  '--accent-ink': 'ink',
  '--accent-strong': 'strong',
  '--accent-soft': 'soft',
  '--accent-ring': 'ring',
};

/** Sets `properties` (custom property -> palette colour) on :root from an accent (CSSOM only). */
export function applyAccent(accent, properties = ACCENT_PROPERTIES) {
  const pal = accentPalette(accent);
  const root = document.documentElement.style;
  for (const [prop, key] of Object.entries(properties)) root.setProperty(prop, pal[key]);
  return pal;
}

/** The header title for a company name: "IT support", "Contoso support", "Contoso Support Desk". */
export function supportTitle(company) {
  const c = typeof company === 'string' ? company.trim() : '';
  if (!c) return 'IT support';
  return /\bsupport\b/i.test(c) ? c : `${c} support`;
}
