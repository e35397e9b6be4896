// The phone web app (`bash app/web/build.sh`), served by the relay with `--web`, in
// Chromium at phone size: the store in its worker on the origin-private file system.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { repo, tempDir, openBrowser, tap, go, shot, eventually } from './lib.mjs';

const webDir = process.env.AFTERCALL_WEB_DIR || join(repo, 'app', 'web', 'dist');

function relayBinary() {
  if (process.env.SYNC_SERVER_BIN) return process.env.SYNC_SERVER_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(repo, 'target');
  return join(target, 'debug', 'sync-server');
}

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** The relay serving the built web app (from `dir`) on a free loopback port. */
async function startRelay(dir = webDir) {
  if (!existsSync(join(dir, 'index.html'))) throw new Error(`no web build in ${dir}: run bash app/web/build.sh`);
  const data = tempDir('aftercall-relay-');
  const port = await freePort();
  const child = spawn(relayBinary(), ['--listen', `127.0.0.1:${port}`, '--db', join(data.dir, 'relay.sqlite'), '--web', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SYNC_LOG: 'warn' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = `http://127.0.0.1:${port}/`;
  await eventually(async () => (await fetch(`${url}health`)).ok, 20000).catch((e) => {
    throw new Error(`the relay did not start: ${e.message}\n${stderr}`);
  });
  const stop = () => new Promise((done) => {
    if (child.exitCode !== null) { data.cleanup(); return done(); }
    child.once('exit', () => { data.cleanup(); done(); });
    child.kill('SIGTERM');
  });
  return { url, stop };
}

test('phone web app: a capture is kept on the phone across a reload, and a second tab is kept out', async () => {
  const relay = await startRelay();
  const browser = await openBrowser('phone');
  const { page, context } = browser;
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    // Nothing of the page's own placeholder is left once the screens are up.
    await eventually(async () => (await page.locator('.loading').count()) === 0);
    await shot(page, 'web-capture-empty');
    await tap(page, 'phone', '#person');
    await page.keyboard.type('Ana Web');
    await page.keyboard.press('Enter');
    await eventually(async () => (await page.evaluate(() => document.activeElement?.id)) === 'talked-about');
    await page.keyboard.type('pricing, typed on the phone');
    await tap(page, 'phone', '#save');
    await page.locator('#saved').waitFor();
    assert.match(await page.locator('#saved').innerText(), /Saved: .* with Ana Web/);
    await shot(page, 'web-capture-saved');

    // A second tab of the same app is told to use the first, and opens nothing.
    const other = await context.newPage();
    await other.goto(relay.url);
    await other.getByText('Aftercall is open in another tab').waitFor({ timeout: 30000 });
    await shot(other, 'web-second-tab');
    await other.close();

    // The note is in the store on the phone's private file system: a reload finds it.
    await page.reload();
    await page.locator('#person').waitFor({ timeout: 60000 });
    await go(page, 'phone', 'people');
    await eventually(async () => /Ana Web/.test(await page.locator('#people-list').innerText()), 20000);
    await page.locator('#search').fill('typed');
    await eventually(async () => (await page.locator('#people-list mark').allInnerTexts()).some((t) => /typed/i.test(t)));
    await shot(page, 'web-people-search');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await relay.stop();
  }
});

test('phone web app: installable, kept by its service worker, updated at the next launch, and working with the server stopped', async () => {
  // A copy of the build, so that this test can publish a new version of it.
  const site = tempDir('aftercall-site-');
  cpSync(webDir, site.dir, { recursive: true });
  const relay = await startRelay(site.dir);
  const browser = await openBrowser('phone');
  const { page, context } = browser;
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  let stopped = false;
  try {
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    // The service worker keeps the app and, from the next load on, serves it.
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await page.reload();
    await page.locator('#person').waitFor({ timeout: 60000 });
    assert.equal(await page.evaluate(() => Boolean(navigator.serviceWorker.controller)), true);

    // Chromium finds nothing standing in the way of installing it.
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    assert.deepEqual(installabilityErrors, []);
    const { errors: manifestErrors } = await cdp.send('Page.getAppManifest');
    assert.deepEqual(manifestErrors, []);
    assert.equal(await page.locator('#update').isVisible(), false);

    // A new version on the server is fetched in the background and announced; the
    // running one stays until the next launch.
    const sw = join(site.dir, 'sw.js');
    writeFileSync(sw, readFileSync(sw, 'utf8').replace(/const VERSION = '[^']*'/, "const VERSION = 'next'"));
    await page.reload();
    await page.locator('#update').waitFor({ timeout: 30000 });
    assert.match(await page.locator('#update').innerText(), /new version of Aftercall is ready/);
    await shot(page, 'web-update-ready');

    // No server at all: the app still opens, captures, searches and shows Today.
    await relay.stop();
    stopped = true;
    await page.reload();
    await page.locator('#person').waitFor({ timeout: 60000 });
    await tap(page, 'phone', '#person');
    await page.keyboard.type('Olga Offline');
    await page.keyboard.press('Enter');
    await eventually(async () => (await page.evaluate(() => document.activeElement?.id)) === 'talked-about');
    await page.keyboard.type('met at the booth with no signal');
    await tap(page, 'phone', '#thank-you');
    await tap(page, 'phone', '#save');
    await page.locator('#saved').waitFor();
    assert.match(await page.locator('#saved').innerText(), /with Olga Offline/);
    await go(page, 'phone', 'today');
    await page.locator('#thank-yous').waitFor();
    assert.match(await page.locator('#thank-yous').innerText(), /Olga Offline/);
    await shot(page, 'web-offline-today');
    await go(page, 'phone', 'people');
    await page.locator('#search').fill('booth');
    await eventually(async () => /Olga Offline/.test(await page.locator('#people-list').innerText()));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    if (!stopped) await relay.stop();
    site.cleanup();
  }
});
