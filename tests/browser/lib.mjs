// Shared helpers for the browser tests: start `aftercall serve-ui` on a free port
// with a fresh data directory, or the relay serving the phone web app, and open
// Debian's Chromium at a phone or desktop size.

import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, mkdirSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '..', '..');
export const screenshots = join(here, 'screenshots');
mkdirSync(screenshots, { recursive: true });

/** The app binary: $AFTERCALL_BIN, else the cargo target directory's debug build. */
export function appBinary() {
  if (process.env.AFTERCALL_BIN) return process.env.AFTERCALL_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(repo, 'target');
  return join(target, 'debug', 'aftercall');
}

/** The relay binary: $SYNC_SERVER_BIN, else beside the app binary. */
export function relayBinary() {
  return process.env.SYNC_SERVER_BIN || join(dirname(appBinary()), 'sync-server');
}

/** The built phone web app (`bash app/web/build.sh`). */
export const webDir = process.env.AFTERCALL_WEB_DIR || join(repo, 'app', 'web', 'dist');

/** Whether the phone web app is built (else its tests are not run). */
export const webBuilt = existsSync(join(webDir, 'index.html'));

/** A free port on loopback (for servers that must come back on the same one). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts the relay on loopback, serving the web app in `web` when given: on a free
 * port with a fresh database, or on `port` with its database in `data` (a tempDir)
 * to start it again where it was. Resolves with { url, port, stop }.
 */
export async function startRelay({ web, port, data } = {}) {
  if (web && !existsSync(join(web, 'index.html'))) throw new Error(`no web build in ${web}: run bash app/web/build.sh`);
  const own = !data;
  data = data || tempDir('aftercall-relay-');
  port = port || await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--db', join(data.dir, 'relay.sqlite')];
  if (web) args.push('--web', web);
  const child = spawn(relayBinary(), args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SYNC_LOG: 'warn' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = `http://127.0.0.1:${port}/`;
  await eventually(async () => (await fetch(`${url}health`)).ok, 20000).catch((e) => {
    throw new Error(`the relay did not start: ${e.message}\n${stderr}`);
  });
  const cleanup = () => { if (own) data.cleanup(); };
  const stop = () => new Promise((done) => {
    if (child.exitCode !== null) { cleanup(); return done(); }
    child.once('exit', () => { cleanup(); done(); });
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
  return { url, port, stop };
}

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const VIEWPORTS = {
  phone: { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 },
  desktop: { viewport: { width: 1280, height: 800 }, hasTouch: false, isMobile: false, deviceScaleFactor: 1 },
};

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the command line on a data folder; its standard output. */
export function cli(dataDir, ...args) {
  return execFileSync(appBinary(), ['--data-dir', dataDir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, AFTERCALL_LOG: 'warn' },
  });
}

/** Starts browser mode on 127.0.0.1 port 0; resolves with { url, dataDir, stop }. */
export async function startApp(dataDir) {
  const bin = appBinary();
  if (!existsSync(bin)) throw new Error(`no app binary at ${bin}: run cargo build -p aftercall-app`);
  const child = spawn(bin, ['--data-dir', dataDir, 'serve-ui', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AFTERCALL_LOG: process.env.AFTERCALL_LOG || 'warn' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolveUrl, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve-ui printed no address in 30 s: ${stderr}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/[^\s]+/);
      if (m) { clearTimeout(timer); resolveUrl(m[0]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve-ui exited ${code}: ${stderr}`)); });
  });
  const stop = () => new Promise((done) => {
    if (child.exitCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
  return { url, dataDir, stop, stderr: () => stderr };
}

/**
 * Opens Chromium with a fresh profile at the given viewport, with `args` added to
 * its flags and `permissions` granted; resolves with { page, context, close }.
 */
export async function openBrowser(kind, { args = [], permissions = [] } = {}) {
  const profile = tempDir('aftercall-chromium-');
  const context = await chromium.launchPersistentContext(profile.dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...args],
    permissions,
    ...VIEWPORTS[kind],
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  const close = async () => { await context.close(); profile.cleanup(); };
  return { page, context, close };
}

/**
 * A server and a browser for one test, torn down by `done`: browser mode on a fresh
 * data directory, or with `{ web: true }` the phone web app (its store in the
 * browser's fresh profile) served by the relay. `draft()` resolves with the capture
 * draft the app autosaved, or null; `dataDir` is a scratch folder for the test.
 */
export async function session(kind, { web = false } = {}) {
  const data = tempDir('aftercall-data-');
  const server = web ? await startRelay({ web: webDir }) : await startApp(data.dir);
  const browser = await openBrowser(kind);
  const { page } = browser;
  await page.goto(server.url);
  await page.locator('#person').waitFor({ timeout: web ? 60000 : 15000 });
  // The user starts typing once the cursor is in the person field.
  await eventually(() => page.evaluate(() => document.activeElement?.id === 'person'));
  const done = async () => { await browser.close(); await server.stop(); data.cleanup(); };
  const readDraft = web
    ? async () => JSON.parse(await page.evaluate(() => localStorage.getItem('aftercall/capture-draft.json')) || 'null')
    : async () => draft(data.dir);
  return { page, context: browser.context, server, dataDir: data.dir, draft: readDraft, done };
}

/** Where a test runs: browser mode at a phone and a desktop size, and the phone web app. */
export const TARGETS = [
  { name: 'phone', kind: 'phone', web: false },
  { name: 'desktop', kind: 'desktop', web: false },
  { name: 'phone web app', kind: 'phone', web: true },
];

/** Clicks (phone: taps) an element. */
export async function tap(page, kind, selector) {
  const loc = typeof selector === 'string' ? page.locator(selector) : selector;
  if (kind === 'phone') await loc.tap(); else await loc.click();
}

/** Goes to a screen through the navigation (on a phone, "More" holds the rest). */
export async function go(page, kind, slug) {
  const direct = await page.locator(`#nav-${slug}`).isVisible();
  if (direct) return tap(page, kind, `#nav-${slug}`);
  await tap(page, kind, '#nav-more');
  await tap(page, kind, `#more-${slug}`);
}

/** Saves a screenshot of the whole page. */
export async function shot(page, name) {
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: false });
}

/** The capture draft the app autosaved, or null. */
export function draft(dataDir) {
  const path = join(dataDir, 'capture-draft.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null;
}

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function eventually(check, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await check(); if (last) return last; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met in ${ms} ms (last: ${last})`);
}

/** 300 characters of the kind people type: letters, digits, spaces, punctuation, accents. */
export function fastText(seed = 0) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-()éüñ';
  let s = '';
  let x = 12345 + seed * 7919;
  for (let i = 0; s.length < 300; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const c = alphabet[x % alphabet.length];
    // no leading space, no double spaces (so nothing is normalised away)
    if (c === ' ' && (s.length === 0 || s.endsWith(' '))) continue;
    s += c;
  }
  return s.endsWith(' ') ? s.slice(0, -1) + 'x' : s;
}
