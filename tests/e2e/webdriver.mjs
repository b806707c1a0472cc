// A minimal W3C WebDriver client over fetch, enough to drive the real app window through
// tauri-driver. No npm dependencies: Node 20's fetch and node:test are all the suite needs.

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class Session {
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  static async start(base, application, args, env) {
    const body = {
      capabilities: {
        alwaysMatch: { 'tauri:options': { application, args, ...(env ? { env } : {}) } },
      },
    };
    const value = await call(base, 'POST', '/session', body);
    return new Session(base, value.sessionId);
  }

  cmd(method, path, body) {
    return call(this.base, method, `/session/${this.id}${path}`, body);
  }

  async find(css) {
    const value = await this.cmd('POST', '/element', { using: 'css selector', value: css });
    if (!value || !value[ELEMENT]) throw new Error(`no element ${css}: ${JSON.stringify(value)}`);
    return value[ELEMENT];
  }

  async click(css) {
    // Centre it first, as a person scrolling would: the form's sticky footer can cover the
    // bottom edge where WebDriver scrolls an element to.
    await this.exec('document.querySelector(arguments[0]).scrollIntoView({ block: "center" })', css);
    const el = await this.find(css);
    await this.cmd('POST', `/element/${el}/click`, {});
  }

  async type(css, text) {
    await this.exec('document.querySelector(arguments[0]).scrollIntoView({ block: "center" })', css);
    const el = await this.find(css);
    try {
      await this.cmd('POST', `/element/${el}/clear`, {});
      await this.cmd('POST', `/element/${el}/value`, { text });
    } catch (e) {
      throw new Error(`typing into ${css}: ${e.message}`);
    }
  }

  async text(css) {
    const el = await this.find(css);
    return this.cmd('GET', `/element/${el}/text`);
  }

  exec(script, ...args) {
    return this.cmd('POST', '/execute/sync', { script, args });
  }

  execAsync(script, ...args) {
    return this.cmd('POST', '/execute/async', { script, args });
  }

  /// Presses a chord, e.g. ['\uE009', '\uE007'] for Ctrl+Enter.
  async chord(keys) {
    const down = keys.map((value) => ({ type: 'keyDown', value }));
    const up = [...keys].reverse().map((value) => ({ type: 'keyUp', value }));
    await this.cmd('POST', '/actions', { actions: [{ type: 'key', id: 'keyboard', actions: [...down, ...up] }] });
    await this.cmd('DELETE', '/actions');
  }

  /// Polls a page expression until it is truthy (deadline, not a sleep).
  async waitFor(expression, what, timeoutMs = 30000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      last = await this.exec(`return (${expression});`);
      if (last) return last;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`timed out waiting for ${what} (${expression}); last value ${JSON.stringify(last)}`);
  }

  /// Saves a PNG of the window as the X server shows it (what the user sees). WebDriver's own
  /// screenshot is not used: WebKit's snapshot waits for a compositing frame, and the app
  /// renders without compositing (src-tauri/src/main.rs), so it can wait forever.
  async screenshot(path) {
    const { mkdirSync } = await import('node:fs');
    const { dirname } = await import('node:path');
    const { execFileSync } = await import('node:child_process');
    mkdirSync(dirname(path), { recursive: true });
    const r = await this.cmd('GET', '/window/rect');
    const geometry = `${Math.round(r.width)}x${Math.round(r.height)}+${Math.round(r.x)}+${Math.round(r.y)}`;
    execFileSync('import', ['-window', 'root', '-crop', geometry, '+repage', path]);
  }

  async end() {
    try {
      await call(this.base, 'DELETE', `/session/${this.id}`);
    } catch {
      // The app may already be gone.
    }
  }
}

export async function call(base, method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok || (json.value && json.value.error)) {
    throw new Error(`${method} ${path}: HTTP ${response.status} ${JSON.stringify(json.value ?? json)}`);
  }
  return json.value;
}

export const KEYS = { CONTROL: '\uE009', ENTER: '\uE007', ESCAPE: '\uE00C' };

/// A page expression for Session.waitFor: the element is there, not hidden and laid out.
export const visible = (sel) => `(() => { const e = document.querySelector('${sel}'); return !!e && !e.hidden && e.offsetParent !== null; })()`;
