// A stand-in for the Tauri globals behind the admin window (ui/admin.html), for page tests in a
// plain browser. Tests inject it with Playwright's addInitScript before the page loads;
// admin.html never references it.
//
// It implements the admin command contract in memory: the password gate with a wrong-password
// throttle, settings with a fleet-policy lock list, per-field validation (a small copy of the
// endpoint rules), the API key, the Integration Test, and a toy rules checker/evaluator that
// understands just enough Python-ish lines for the tests (it is not an interpreter).
//
// window.__MOCK_ADMIN__:
//   calls / callsOf(cmd)   every invoke as {cmd, args, at}
//   config                 see DEFAULTS below; configure(patch) shallow-merges (also usable
//                          before load through window.__MOCK_ADMIN_CONFIG__)
//   db                     the mutable server state (settings, rules, key, session)
//   lockNow()              end the admin session, as an idle timeout would
//
// Updates: admin_update_status answers db.updateStatus (config.updateStatus, or
// config.statusError); admin_check_updates waits config.checkDelay ms, then answers
// config.checkResult (or records a manual "up-to-date" check), or rejects with config.checkError;
// admin_install_update waits config.installDelay ms, then rejects with config.installError or
// answers {installed} with the ready version.
(function () {
  'use strict';

  const clone = (x) => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));

  const SETTINGS = {
    schema_version: 1,
    hotkey: 'Ctrl+Shift+F1',
    atera: {
      endpoint: 'app.atera.com',
      auth_mode: 'auto',
      fallback_contact_email: 'frontdesk@contoso.com',
      defaults: { priority: 'Medium', type: 'Incident', impact: 'Minor', status: 'Open' },
    },
    form: {
      checkboxes: ['This is a recurring issue', 'This is an emergency', 'This is about another device, not this PC'],
      radio_groups: [
        { label: 'How should we contact you?', options: ['Connect to my computer', 'Call me', 'Visit on site'] },
        { label: 'Who is affected?', options: ['Only me', 'Several people', 'Everyone here'] },
      ],
      require_phone: false,
    },
    screenshots: { mode: 'all-monitors', allow_exclude: true, max_total_bytes: 1048576 },
    branding: { company_name: 'Contoso IT', accent_color: '#2563eb', logo_data_url: '' },
    support: { phone: '+1 555 010 2030', email: 'help@contoso.com', url: 'https://support.contoso.com' },
    updates: { channel: 'stable', stable_url: 'https://updates.contoso.com/helpdesk-button/stable/latest.json', beta_url: '', check_hours: 6, pubkey: '' },
  };

  const UPDATE_STATUS = {
    current_version: '0.1.0',
    channel: 'stable',
    manifest_url: null,
    checks: 0,
    last_check: null,
    last_trigger: null,
    outcome: { state: 'never-checked' },
    install_mode: { kind: 'automatic' },
    key_source: null,
  };

  const CHOICES = {
    priority: [{ value: 'Low', label: 'Low' }, { value: 'Medium', label: 'Medium' }, { value: 'High', label: 'High' }, { value: 'Critical', label: 'Critical' }],
    type: [{ value: 'Incident', label: 'Incident' }, { value: 'Problem', label: 'Problem' }, { value: 'Request', label: 'Request' }, { value: 'Change', label: 'Change' }],
    impact: [{ value: 'NoImpact', label: 'No impact' }, { value: 'Minor', label: 'Minor' }, { value: 'Major', label: 'Major' }, { value: 'SiteDown', label: 'Site down' }, { value: 'ServerIssue', label: 'Server issue' }, { value: 'Crisis', label: 'Crisis' }],
    auth_mode: ['auto', 'api-key', 'bearer'],
    screenshot_mode: ['all-monitors', 'primary-only', 'off'],
    update_channel: ['stable', 'beta'],
  };

  const SAMPLE = {
    selections: ['This is an emergency', 'Call me'],
    hostname: 'PC-042', name: 'Ada Lovelace', email: 'ada@contoso.com', ip: '192.168.1.20', mac: 'aa:bb:cc:dd:ee:ff',
    username: 'ada', os: 'Windows 11 Pro 23H2', input_name: '', input_email: '', input_phone: '',
    priority: 'Medium', type: 'Incident', impact: 'Minor', status: 'Open',
    subject: 'Outlook crashes on start', msg: 'Outlook crashes every time I open it.', append: '',
  };

  const RULES = "# Runs on every ticket before it is filed.\nif 'This is an emergency' in selections:\n    priority = 'Critical'\n";

  const DEFAULTS = {
    passwordSet: true,
    password: 'correct horse',
    policySetsPassword: false,
    unlocked: false,
    throttleAfter: 2,        // wrong attempts before the wait starts
    throttleMs: 3000,        // the first wait; doubles with each further wrong attempt
    locked: ['atera.endpoint', 'atera.defaults.priority'],
    settings: clone(SETTINGS),
    choices: clone(CHOICES),
    apiKey: { configured: true, masked: '••••abcd', source: 'in the OS keychain', warning: null },
    keyWarning: null,        // warning returned by admin_set_api_key
    about: { version: '0.1.0', config_dir: '/home/ada/.config/helpdesk-button', data_dir: '/home/ada/.local/share/helpdesk-button', policy_file: '/etc/helpdesk-button/policy.toml', policy_loaded: true },
    rules: RULES,
    sample: clone(SAMPLE),
    testDelay: 0,
    testSteps: null,         // null: the built-in steps
    saveError: null,
    ticketNumber: 1042,
    updateStatus: clone(UPDATE_STATUS),
    statusError: null,
    checkDelay: 0,
    checkResult: null,       // null: a manual check that finds nothing new
    checkError: null,
    installDelay: 0,
    installError: null,
    relay: null,             // relay mode: {url}; the Rules section then edits the relay's rules
    relayToken: 'hba1.0123456789abcdef.secret',
    relayRules: { script: "if 'jams' in msg:\n    priority = 'High'\n", version: 3, editable: true, source: 'saved on the relay; they run for every enrolled PC', saved_at: '2026-12-06T20:10:00Z', saved_by: 'Sam (5e1f00aa00000000)', admin: 'Dana' },
  };

  const config = Object.assign(clone(DEFAULTS), window.__MOCK_ADMIN_CONFIG__ || {});
  const calls = [];
  const db = {
    passwordSet: config.passwordSet,
    password: config.password,
    unlocked: config.unlocked,
    failures: 0,
    throttleUntil: 0,
    settings: clone(config.settings),
    rules: config.rules,
    apiKey: clone(config.apiKey),
    updateStatus: clone(config.updateStatus),
    relayToken: null,        // the token signed in with (the backend keeps it while unlocked)
    relayRules: clone(config.relayRules),
  };

  const locked = () => { throw { kind: 'locked', message: 'The admin settings are locked. Enter the admin password again.' }; };
  const invalid = (message, fields) => { throw fields ? { kind: 'invalid', message, fields } : { kind: 'invalid', message }; };

  // ---- validation (a small copy of the backend's rules) --------------------------------------

  const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

  function validateEndpoint(raw) {
    const notes = [];
    let s = String(raw).trim();
    if (!s) invalid('Enter the Atera address, like app.atera.com.');
    if (/\s/.test(s)) invalid('Remove the spaces: an address has none.');
    if (s.includes(',')) invalid(`"${s}" has a comma where a dot belongs: did you mean ${s.replace(/,/g, '.')}?`);
    let scheme = '';
    const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s);
    if (m) { scheme = m[1].toLowerCase(); s = s.slice(m[0].length); }
    if (scheme && scheme !== 'https' && scheme !== 'http') invalid(`Use https://, not ${scheme}://.`);
    const slash = s.indexOf('/');
    if (slash >= 0) {
      const path = s.slice(slash).replace(/\/+$/, '');
      s = s.slice(0, slash);
      if (path) notes.push(`removed the path ${path}`);
    }
    let host = s; let port = '';
    const pm = /^(.*):(\d+)$/.exec(s);
    if (pm) { host = pm[1]; port = pm[2]; }
    if (!/^[a-z0-9.[\]:-]+$/i.test(host) || host.startsWith('.') || host.endsWith('.') || host.includes('..')) invalid(`"${host}" is not a host name.`);
    const loop = LOOPBACK.test(host);
    if (scheme === 'http' && !loop) invalid('Plain http is only allowed for this computer (127.0.0.1). Use https.');
    if (port && !loop) invalid(`Remove the port :${port}: Atera's public servers use the standard HTTPS port.`);
    if (!loop && !host.includes('.')) invalid(`"${host}" is not a full host name, like app.atera.com.`);
    if (scheme === 'https') notes.push('removed https:// (always used)');
    return notes;
  }

  function validateKey(key, value) {
    const v = String(value);
    switch (key) {
      case 'atera.endpoint': return validateEndpoint(v);
      case 'atera.fallback_contact_email':
      case 'support.email':
        if (v.trim() && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v.trim())) invalid('Use an email address like frontdesk@yourcompany.com.');
        return [];
      case 'support.url':
        if (v.trim() && !/^https?:\/\//i.test(v.trim())) invalid('Start the address with https://.');
        return [];
      case 'branding.accent_color':
        if (!/^#[0-9a-f]{6}$/i.test(v.trim())) invalid('Use a colour like #2563eb.');
        return [];
      case 'hotkey':
        if (!v.trim()) invalid('Give a key such as F9 or Ctrl+Shift+F1.');
        return [];
      case 'screenshots.max_total_bytes':
        if (!(Number(v) >= 50000)) invalid('Allow at least 50000 bytes.');
        return [];
      case 'atera.defaults.status':
        if (/^(closed)$/i.test(v.trim())) return ['new tickets will be filed already closed'];
        return [];
      case 'updates.stable_url':
      case 'updates.beta_url': {
        const s = v.trim();
        if (!s) return [];
        let u;
        try { u = new URL(s); } catch { invalid(`"${s}" is not a web address: give the full URL of the channel's latest.json, like https://updates.example.com/helpdesk-button/stable/latest.json`); }
        if (u.protocol === 'https:') return [];
        if (u.protocol === 'http:' && LOOPBACK.test(u.hostname)) return [];
        if (u.protocol === 'http:') invalid(`"${s}" uses plain http: update manifests must use https (plain http is only allowed for 127.0.0.1 or localhost)`);
        invalid(`"${s}" is not an http(s) address: give an https URL`);
        return [];
      }
      case 'updates.check_hours': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 168) invalid('Use a number of hours from 1 to 168 (6 is a good default)');
        return [];
      }
      case 'updates.pubkey':
        invalid('Only the machine-wide policy file can pin the update key');
        return [];
      case 'form.checkboxes': {
        const list = JSON.parse(v);
        if (list.some((x) => !String(x).trim())) invalid('Every checkbox needs a label.');
        return [];
      }
      default:
        return [];
    }
  }

  // ---- the rules toy ------------------------------------------------------------------------

  const READ_ONLY = ['selections', 'hostname', 'name', 'email', 'ip', 'mac', 'username', 'os', 'input_name', 'input_email', 'input_phone'];
  const READ_WRITE = ['priority', 'type', 'impact', 'status', 'subject', 'msg', 'append'];
  const BLOCK = /^\s*(if|elif|else|for|while|def|try|except|finally|with|class)\b/;

  function stripStrings(line) {
    return line.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, (s) => ' '.repeat(s.length)).replace(/#.*$/, '');
  }

  function checkRules(script) {
    const diagnostics = [];
    const lines = String(script).split('\n');
    let depth = 0;
    lines.forEach((raw, i) => {
      const code = stripStrings(raw);
      const t = code.trimEnd();
      if (BLOCK.test(t) && !t.endsWith(':')) {
        diagnostics.push({ line: i + 1, column: raw.replace(/#.*$/, '').trimEnd().length + 1, message: "expected ':'", kind: 'Syntax' });
      }
      for (const c of code) { if ('([{'.includes(c)) depth += 1; if (')]}'.includes(c)) depth -= 1; }
      const lint = /\bis\s+(not\s+)?('|"|\d)/.exec(raw);
      if (lint) diagnostics.push({ line: i + 1, column: lint.index + 1, message: "use '==' to compare with a literal, not 'is'", kind: 'Lint' });
      const ro = /^\s*(\w+)\s*=[^=]/.exec(raw);
      if (ro && READ_ONLY.includes(ro[1])) diagnostics.push({ line: i + 1, column: raw.indexOf(ro[1]) + 1, message: `'${ro[1]}' is read-only: this assignment is ignored`, kind: 'ReadOnly' });
    });
    if (depth !== 0) diagnostics.push({ line: lines.length, column: 1, message: "'(' was never closed", kind: 'Syntax' });
    return { ok: !diagnostics.some((d) => d.kind === 'Syntax'), diagnostics };
  }

  function testRules(script, input) {
    const vars = {};
    for (const k of READ_ONLY) vars[k] = k === 'selections' ? (input.selections || []).join('\n') : String(input[k] ?? '');
    for (const k of READ_WRITE) vars[k] = String(input[k] ?? '');
    vars.exception = '';
    const start = { ...vars };
    const out = { exception: null, changed: [], warnings: [], error: null, variables: {}, printed: '' };
    const { diagnostics } = checkRules(script);
    const syntax = diagnostics.find((d) => d.kind === 'Syntax');
    out.warnings = diagnostics.filter((d) => d.kind !== 'Syntax');
    if (syntax) {
      out.error = syntax;
      out.exception = `line ${syntax.line}: SyntaxError: ${syntax.message}`;
    } else {
      const lines = String(script).split('\n');
      for (let i = 0; i < lines.length && !out.error; i += 1) {
        const raw = lines[i];
        let m = /^\s*(\w+)\s*=\s*'([^']*)'\s*$/.exec(raw);
        if (m) { if (!READ_ONLY.includes(m[1])) vars[m[1]] = m[2]; continue; }
        m = /^\s*(\w+)\s*=\s*'([^']*)'\s*\+\s*(\w+)\s*$/.exec(raw);
        if (m && m[3] in vars) { if (!READ_ONLY.includes(m[1])) vars[m[1]] = m[2] + vars[m[3]]; continue; }
        m = /^(\s*\w+\s*=\s*)([a-z_]\w*)\s*$/.exec(raw);
        if (m && !(m[2] in vars) && !['True', 'False', 'None'].includes(m[2])) {
          out.error = { line: i + 1, column: m[1].length + 1, message: `NameError: name '${m[2]}' is not defined`, kind: 'Runtime' };
          out.exception = `line ${i + 1}: NameError: name '${m[2]}' is not defined`;
        }
      }
      if (!out.error && vars.exception) out.exception = vars.exception;
    }
    for (const k of READ_WRITE) if (vars[k] !== start[k]) out.changed.push(k);
    for (const k of [...READ_ONLY, ...READ_WRITE]) out.variables[k] = k === 'selections' ? input.selections || [] : vars[k];
    for (const k of READ_WRITE) out[k] = vars[k];
    return out;
  }

  // ---- commands --------------------------------------------------------------------------------

  function applyPolicy(settings) {
    for (const key of config.locked) {
      const path = key.split('.');
      let src = config.settings; let dst = settings;
      for (let i = 0; i < path.length - 1; i += 1) { src = src[path[i]]; dst = dst[path[i]]; }
      dst[path[path.length - 1]] = clone(src[path[path.length - 1]]);
    }
    return settings;
  }

  function steps(send) {
    if (config.testSteps) return clone(config.testSteps);
    const email = (db.lastTestEmail || 'ada@contoso.com');
    const out = [
      { name: 'Atera address', status: 'ok', message: `${db.settings.atera.endpoint} answers over HTTPS` },
      { name: 'API key', status: 'ok', message: 'Atera accepted the key (sent as X-API-KEY)' },
      { name: 'This PC in Atera', status: 'warning', message: 'PC-042 has no Atera agent: tickets are filed for the contact only' },
      { name: 'Contact', status: 'ok', message: `${email} is a contact of Contoso` },
    ];
    if (send) out.push({ name: 'Test ticket', status: 'ok', message: `test ticket #${config.ticketNumber} filed` });
    return out;
  }

  async function invoke(cmd, args = {}) {
    calls.push({ cmd, args: clone(args), at: Date.now() });
    await wait(5);
    switch (cmd) {
      case 'admin_status':
        return {
          password_set: db.passwordSet,
          unlocked: db.unlocked,
          retry_after_ms: Math.max(0, db.throttleUntil - Date.now()),
          policy_sets_password: !!config.policySetsPassword,
        };
      case 'admin_set_password': {
        if (db.passwordSet && !db.unlocked) locked();
        if (config.policySetsPassword) throw { kind: 'forbidden', message: 'Your organisation sets the admin password.' };
        const p = String(args.password || '');
        if (p.length < 8) invalid('Use at least 8 characters.');
        db.password = p; db.passwordSet = true; db.unlocked = true;
        return null;
      }
      case 'admin_unlock': {
        const left = db.throttleUntil - Date.now();
        if (left > 0) throw { kind: 'wrong-password', message: `Too many wrong passwords. Try again in ${Math.ceil(left / 1000)} s.`, retry_after_ms: left };
        if (!db.passwordSet) throw { kind: 'invalid', message: 'No admin password is set yet.' };
        if (args.password !== db.password) {
          db.failures += 1;
          let retry = 0;
          if (db.failures >= config.throttleAfter) {
            retry = config.throttleMs * 2 ** (db.failures - config.throttleAfter);
            db.throttleUntil = Date.now() + retry;
          }
          throw { kind: 'wrong-password', message: retry ? `That is not the admin password. Try again in ${Math.ceil(retry / 1000)} s.` : 'That is not the admin password.', retry_after_ms: retry };
        }
        db.failures = 0; db.unlocked = true;
        return null;
      }
      case 'admin_lock':
        db.unlocked = false;
        db.relayToken = null;
        return null;
      default:
        break;
    }
    if (!db.unlocked) locked();
    switch (cmd) {
      case 'admin_get_settings':
        return {
          settings: clone(db.settings),
          locked: clone(config.locked),
          api_key: clone(db.apiKey),
          choices: clone(config.choices),
          about: clone(config.about),
          rules: { text: db.rules, relay: config.relay ? { url: config.relay.url, signed_in: !!db.relayToken } : null },
        };
      case 'admin_validate':
        return { notes: validateKey(args.key, args.value) };
      case 'admin_save': {
        if (config.saveError) throw clone(config.saveError);
        const s = applyPolicy(clone(args.settings));
        const notes = [];
        try { notes.push(...validateKey('atera.endpoint', s.atera.endpoint)); } catch (e) {
          invalid('Some settings need fixing.', { 'atera.endpoint': e.message });
        }
        s.atera.endpoint = s.atera.endpoint.replace(/^https?:\/\//i, '').replace(/\/.*$/, '');
        db.settings = s;
        return { notes };
      }
      case 'admin_set_api_key': {
        const k = String(args.key || '').trim();
        if (k.length < 12) invalid('That is too short for an Atera API key: copy it again from Admin > API.');
        db.apiKey = { configured: true, masked: `••••${k.slice(-4)}`, source: config.keyWarning ? 'in a file only you can read' : 'in the OS keychain', warning: config.keyWarning };
        return { masked: db.apiKey.masked, source: db.apiKey.source, warning: db.apiKey.warning };
      }
      case 'admin_test_connection':
        db.lastTestEmail = args.email;
        if (config.testDelay) await wait(config.testDelay);
        return steps(!!args.send);
      case 'admin_check_rules':
        return checkRules(args.script);
      case 'admin_test_rules':
        return testRules(args.script, args.input || {});
      case 'admin_save_rules': {
        const r = checkRules(args.script);
        const err = r.diagnostics.find((d) => d.kind === 'Syntax');
        if (err) invalid('The rules were not saved.', { rules: `line ${err.line}, column ${err.column}: ${err.message}` });
        db.rules = args.script;
        return null;
      }
      case 'admin_relay_sign_in': {
        const t = String(args.token || '').trim();
        if (!t.startsWith('hba1.')) invalid('Not signed in.', { relay_token: 'That is a device credential; an admin token starts with hba1. (create one on the relay with `helpdesk-relay admin create --name NAME`).' });
        if (t !== config.relayToken) invalid('Not signed in.', { relay_token: 'The relay does not know this admin token. Create one on the relay with `helpdesk-relay admin create --name YOUR-NAME` and paste it here.' });
        db.relayToken = t;
        return { ...clone(db.relayRules), url: config.relay.url };
      }
      case 'admin_relay_sign_out':
        db.relayToken = null;
        return null;
      case 'admin_relay_rules':
      case 'admin_relay_check_rules':
      case 'admin_relay_test_rules':
      case 'admin_relay_save_rules': {
        if (!db.relayToken) throw { kind: 'relay-signed-out', message: 'Sign in to the relay with an admin token first.' };
        if (cmd === 'admin_relay_rules') return { ...clone(db.relayRules), url: config.relay.url };
        if (cmd === 'admin_relay_check_rules') return checkRules(args.script);
        if (cmd === 'admin_relay_test_rules') return testRules(args.script, args.input || {});
        // In the relay's order: read-only, then the syntax, then the version.
        if (!db.relayRules.editable) throw { kind: 'relay', message: 'These rules come from /etc/helpdesk-relay/rules.py (rules_file in relay.toml): edit that file on the relay, or remove rules_file to edit them from the admin window.' };
        const r = checkRules(args.script);
        const err = r.diagnostics.find((d) => d.kind === 'Syntax');
        if (err) invalid('Not saved.', { rules: `Line ${err.line}, column ${err.column}: ${err.message}. Fix it before saving.` });
        if (Number(args.version) !== db.relayRules.version) throw { kind: 'relay-conflict', message: `${db.relayRules.saved_by} saved version ${db.relayRules.version} of the rules at ${db.relayRules.saved_at} since you opened version ${args.version}; reload them and make your change again.` };
        db.relayRules = { ...db.relayRules, script: args.script, version: db.relayRules.version + 1, saved_by: 'Dana (0123456789abcdef)', saved_at: '2026-12-06T21:00:00Z' };
        return { ...clone(db.relayRules), url: config.relay.url };
      }
      case 'admin_sample_input':
        return clone(config.sample);
      case 'admin_update_status':
        if (config.statusError) throw clone(config.statusError);
        return clone(db.updateStatus);
      case 'admin_check_updates': {
        if (config.checkDelay) await wait(config.checkDelay);
        if (config.checkError) throw clone(config.checkError);
        const channel = db.settings.updates.channel;
        const url = db.settings.updates[`${channel}_url`] || null;
        db.updateStatus = config.checkResult ? clone(config.checkResult) : {
          ...db.updateStatus,
          channel,
          manifest_url: url,
          checks: db.updateStatus.checks + 1,
          last_check: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          last_trigger: 'manual',
          outcome: url ? { state: 'up-to-date' } : { state: 'not-configured', message: `No update server is set for the ${channel} channel: enter its manifest URL (updates.${channel}_url).` },
          key_source: url ? 'built into the app' : db.updateStatus.key_source,
        };
        return clone(db.updateStatus);
      }
      case 'admin_install_update': {
        if (config.installDelay) await wait(config.installDelay);
        if (config.installError) throw clone(config.installError);
        const o = db.updateStatus.outcome || {};
        if (o.state !== 'ready') throw { kind: 'update', message: 'No update is waiting to be installed: press Check now first.' };
        db.updateStatus = { ...db.updateStatus, outcome: { state: 'installed', version: o.version } };
        return { installed: o.version };
      }
      default:
        throw { kind: 'internal', message: `mock: unknown command ${cmd}` };
    }
  }

  window.__TAURI__ = { core: { invoke }, event: { listen: async () => () => {} } };
  window.__MOCK_ADMIN__ = {
    calls,
    config,
    db,
    configure(patch) { Object.assign(config, patch); },
    callsOf(cmd) { return calls.filter((c) => c.cmd === cmd); },
    lockNow() { db.unlocked = false; db.relayToken = null; },
    defaults: () => clone(DEFAULTS),
  };
}());
