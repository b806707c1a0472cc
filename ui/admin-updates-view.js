// Helpdesk Button: the admin window's Updates section as words: what an update status says.
// Pure; admin.js renders it, and tests import it.

// ---- update status ------------------------------------------------------------------------------

const TRIGGER_LABELS = { start: 'at start', schedule: 'scheduled', manual: 'manual' };
export const INSTALL_AUTOMATIC_TEXT = 'It installs the next time nobody is using the app, or when the app quits.';

const capitalise = (s) => (s ? s.charAt(0).toUpperCase() + s.slice(1) : s);

/** An RFC 3339 time as local date and time ("28 Nov 2026, 10:12"), or the text as given. */
export function localDateTime(iso) {
  const d = new Date(String(iso));
  if (Number.isNaN(d.getTime())) return String(iso);
  try {
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  } catch {
    return d.toLocaleString();
  }
}

/**
 * What the Updates section shows for an admin_update_status answer: the facts, and the outcome as
 * {tone, title, text, notes, next}. `tone` is ok, ready, warning, error or none; `canInstall`
 * says whether Install now is offered. `savedChannel` is the channel in the saved settings: the
 * status keeps the one of the last check, and `nextChannel` is set when the two differ.
 * `fallbackVersion` is about.version, for before the status arrives.
 */
export function updateStatusView(status, { savedChannel = null, fallbackVersion = '' } = {}) {
  const st = status && typeof status === 'object' ? status : {};
  const str = (v) => (typeof v === 'string' ? v.trim() : '');
  const version = str(st.current_version) || str(fallbackVersion) || '—';
  const lastCheck = str(st.last_check);
  const checkedChannel = str(st.channel);
  const saved = str(savedChannel);
  const channel = (lastCheck ? checkedChannel : saved) || checkedChannel || saved || '—';
  const nextChannel = lastCheck && saved && checkedChannel && saved !== checkedChannel ? saved : '';
  const trigger = TRIGGER_LABELS[str(st.last_trigger)] || str(st.last_trigger);
  const lastCheckText = lastCheck ? `${localDateTime(lastCheck)}${trigger ? ` (${trigger})` : ''}` : 'Not checked yet';
  const manifest = str(st.manifest_url);
  const keySource = str(st.key_source);
  const mode = st.install_mode && typeof st.install_mode === 'object' ? st.install_mode : {};
  const modeKind = str(mode.kind) || 'automatic';
  const modeMessage = str(mode.message);
  const out = st.outcome && typeof st.outcome === 'object' ? st.outcome : { state: 'never-checked' };
  const v = {
    version,
    channel,
    nextChannel,
    lastCheck: lastCheckText,
    checked: !!lastCheck,
    manifest,
    keySource: keySource ? capitalise(keySource) : '',
    state: str(out.state) || 'never-checked',
    tone: 'none',
    title: '',
    text: '',
    notes: '',
    next: '',
    canInstall: false,
  };
  switch (v.state) {
    case 'never-checked':
      v.title = 'Not checked yet';
      v.text = 'The app checks a few minutes after it starts, then on its schedule. Press Check now to look at once.';
      break;
    case 'not-configured':
      v.tone = 'warning';
      v.title = 'Update checks are not set up';
      v.text = str(out.message);
      break;
    case 'up-to-date':
      v.tone = 'ok';
      v.title = 'Up to date';
      v.text = `Version ${version} is the newest on the ${channel} channel.`;
      break;
    case 'ready': {
      const nv = str(out.version) || 'new';
      v.tone = 'ready';
      v.title = `Version ${nv} is ready to install`;
      v.text = `Version ${nv} was downloaded and its signature verified.`;
      v.notes = str(out.notes);
      v.next = modeKind === 'automatic' ? INSTALL_AUTOMATIC_TEXT : modeMessage;
      v.canInstall = modeKind !== 'unsupported';
      break;
    }
    case 'installed':
      v.tone = 'ok';
      v.title = `Version ${str(out.version) || 'new'} installed`;
      v.text = 'The app restarts into it.';
      break;
    case 'failed':
      v.tone = 'error';
      v.title = out.refused ? 'Refused' : 'The last check failed';
      v.text = typeof out.message === 'string' ? out.message : '';
      break;
    default:
      v.title = `Unknown state: ${v.state}`;
  }
  return v;
}
