// The harness of the page tests (tests/ui/*.test.mjs): ui/ served with the app's CSP, headless
// Debian Chromium through playwright-core, and pages that collect CSP violations and page errors.
//
//   apt-get install -y chromium
//   cd /work/main && PLAYWRIGHT_CORE_DIR=$PWD/tests/e2e node --test --test-concurrency=1 tests/ui/
//
// playwright-core is looked up from the current directory (so it can live outside the repo), then
// next to this file, then in $PLAYWRIGHT_CORE_DIR. The Tauri globals are replaced by the mock
// scripts next to this file (mock-tauri.js, mock-admin.js, mock-tickets.js).
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const UI = path.resolve(HERE, '..', '..', 'ui');
export const CHROMIUM = '/usr/bin/chromium';
export const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export function loadPlaywright() {
  const bases = [path.join(process.cwd(), 'x.js'), import.meta.url];
  if (process.env.PLAYWRIGHT_CORE_DIR) bases.push(path.join(process.env.PLAYWRIGHT_CORE_DIR, 'x.js'));
  for (const base of bases) {
    try { return createRequire(base)('playwright-core'); } catch { /* next */ }
  }
  throw new Error('playwright-core not found: run from a directory where `npm i playwright-core` was done, or set PLAYWRIGHT_CORE_DIR');
}

/** ui/ over HTTP on a free local port, every answer with the app's CSP. */
function serveUi() {
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const p = path.normalize(path.join(UI, decodeURIComponent(u.pathname)));
    if (!p.startsWith(UI + path.sep)) { res.writeHead(403); res.end(); return; }
    fs.readFile(p, (err, data) => {
      if (err) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': TYPES[path.extname(p)] || 'application/octet-stream', 'content-security-policy': CSP, 'cache-control': 'no-store' });
      res.end(data);
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

/**
 * Registers the suite's before/after hooks: the server and Chromium start before the first test
 * and stop after the last. Returns the harness whose `base` (the server's URL) and `browser` are
 * set once the hook has run. `chromiumArgs` are added to the launch arguments.
 */
export function startHarness({ chromiumArgs = [] } = {}) {
  const h = { base: null, browser: null, server: null };
  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    h.server = await serveUi();
    h.base = `http://127.0.0.1:${h.server.address().port}/`;
    const { chromium } = loadPlaywright();
    h.browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...chromiumArgs] });
  });
  after(async () => {
    if (h.browser) await h.browser.close();
    if (h.server) await new Promise((r) => h.server.close(r));
  });
  return h;
}

/**
 * A fresh page of ui/ in its own context. Before the page loads, CSP violations are recorded,
 * window.alert is trapped, and `prepare(page)` adds the suite's init scripts (its mock). Waits for
 * body[data-view=`waitFor`] when given. The page gets `problems` (page and console errors),
 * `calls(cmd)` (the invokes the mock `window[mock]` recorded) and `done()`, which asserts no CSP
 * violation, no page error and no alert, then closes the context.
 */
export async function openPage(h, { url, width, height, prepare, waitFor, mock }) {
  const context = await h.browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/favicon|404/.test(m.text())) problems.push(`console: ${m.text()}`); });
  await page.addInitScript(() => {
    window.__CSP_VIOLATIONS__ = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__CSP_VIOLATIONS__.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
    window.__ALERTS__ = 0;
    window.alert = () => { window.__ALERTS__ += 1; };
  });
  if (prepare) await prepare(page);
  await page.goto(`${h.base}${url}`);
  if (waitFor) await page.waitForSelector(`body[data-view="${waitFor}"]`);
  page.problems = problems;
  page.calls = (cmd) => page.evaluate(([m, c]) => window[m].callsOf(c), [mock, cmd]);
  page.done = async () => {
    const csp = await page.evaluate(() => window.__CSP_VIOLATIONS__);
    assert.deepEqual(csp, [], 'no CSP violations');
    assert.deepEqual(problems, [], 'no page errors');
    assert.equal(await page.evaluate(() => window.__ALERTS__), 0, 'no script ran from data');
    await context.close();
  };
  return page;
}

/** The path of a mock script next to this file, for page.addInitScript({ path }). */
export const mockScript = (name) => path.join(HERE, name);

export const value = (page, sel) => page.$eval(sel, (e) => e.value);
export const text = (page, sel) => page.$eval(sel, (e) => e.textContent.trim());
export const focusedId = (page) => page.evaluate(() => document.activeElement && document.activeElement.id);
