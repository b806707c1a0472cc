// What the real-window suites (tests/e2e/*.test.mjs) start around the app: the app's Atera
// sandbox and tauri-driver. No npm dependencies.
import { spawn } from 'node:child_process';
import { once } from 'node:events';

/** `helpdesk-button sandbox` on `port`, accepting `apiKey`; resolves once it is listening. */
export async function startSandbox(bin, port, apiKey) {
  const sandbox = spawn(bin, ['sandbox', '--port', String(port), '--api-key', apiKey], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Keep reading its output for its whole life: a closed pipe would end it at its next line.
  await new Promise((resolve, reject) => {
    let seen = '';
    sandbox.stdout.on('data', (chunk) => {
      seen += chunk;
      if (seen.includes('listening')) resolve();
    });
    sandbox.on('exit', (code) => reject(new Error(`the sandbox exited (${code}): ${seen}`)));
  });
  return sandbox;
}

/** Polls tauri-driver's /status at `wd` until it answers (deadline, not a sleep). */
export async function waitForDriver(wd, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${wd}/status`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('tauri-driver did not start');
}

/** tauri-driver on `port` (its native driver on the next one) with `env`; resolves once it answers. */
export async function startDriver(driverBin, port, env) {
  const driver = spawn(driverBin, ['--port', String(port), '--native-port', String(port + 1)], { stdio: 'ignore', env });
  try {
    await waitForDriver(`http://127.0.0.1:${port}`);
  } catch (e) {
    driver.kill();
    throw e;
  }
  return driver;
}

/** Stops what startDriver and startSandbox started; waits for the driver (and its app) to exit. */
export async function stopAll(driver, sandbox) {
  driver?.kill();
  sandbox?.kill();
  if (driver) await once(driver, 'exit').catch(() => {});
}
