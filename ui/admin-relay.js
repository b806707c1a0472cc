// Helpdesk Button: the admin window's Rules section in relay mode.
//
// With a relay in the machine policy the rules that run are the relay's, for every PC. The
// section then signs in to the relay with an admin token and reads, checks, tests and saves the
// relay's rules (admin_relay_* commands), with the same editor and Test Rules view as the local
// rules. Pure helpers, exported for tests; admin.js wires them to the page.

/** The commands the Rules section calls: the local ones, or the relay's. */
export function rulesCommands(relayMode) {
  return relayMode
    ? { check: 'admin_relay_check_rules', test: 'admin_relay_test_rules', save: 'admin_relay_save_rules' }
    : { check: 'admin_check_rules', test: 'admin_test_rules', save: 'admin_save_rules' };
}

/**
 * What the relay card says, from the relay part of admin_get_settings (`{url, signed_in}`) and
 * the rules document the relay sent (`{version, editable, source, saved_at, saved_by, admin}`).
 */
export function relayView(relay, doc) {
  if (!relay) return null;
  const url = String(relay.url || '');
  if (!doc) {
    return {
      mode: 'signed-out',
      title: 'These rules run on the relay, for every PC:',
      url,
      detail: 'Sign in with a relay admin token to edit and test them there. The rules in this PC’s own settings are not used in relay mode.',
    };
  }
  const version = Number(doc.version) || 0;
  const saved = version
    ? `Version ${version}, saved${doc.saved_by ? ` by ${doc.saved_by}` : ''}${doc.saved_at ? ` at ${formatTime(doc.saved_at)}` : ''}.`
    : 'No rules saved on the relay yet: tickets are filed as people send them.';
  if (!doc.editable) {
    return {
      mode: 'read-only',
      title: 'Read-only: these rules come from the relay’s own file.',
      url,
      detail: `They are ${String(doc.source || 'set on the relay')}. You can still test changes here.`,
    };
  }
  return {
    mode: 'editable',
    title: `Signed in as ${String(doc.admin || 'an admin')} to the relay`,
    url,
    detail: `${saved} Saving here changes the rules for every PC; the next ticket runs them.`,
  };
}

/** `2026-12-06T20:10:00Z` -> `2026-12-06 20:10 UTC`. */
export function formatTime(iso) {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(String(iso || ''));
  return m ? `${m[1]} ${m[2]} UTC` : String(iso || '');
}

/** The status line after a save on the relay. */
export function savedMessage(doc) {
  const v = Number(doc && doc.version) || 0;
  return `Saved on the relay as version ${v}. The next ticket from any PC runs them.`;
}
