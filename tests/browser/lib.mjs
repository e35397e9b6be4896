// Shared helpers for the browser tests: start `aftercall serve-ui` on a free port
// with a fresh data directory, and open Debian's Chromium at a phone or desktop size.

import { spawn } from 'node:child_process';
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

/** Opens Chromium with a fresh profile at the given viewport; resolves with { page, close }. */
export async function openBrowser(kind) {
  const profile = tempDir('aftercall-chromium-');
  const context = await chromium.launchPersistentContext(profile.dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    ...VIEWPORTS[kind],
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  const close = async () => { await context.close(); profile.cleanup(); };
  return { page, context, close };
}

/** A data dir, a server and a browser for one test; everything is torn down by `done`. */
export async function session(kind) {
  const data = tempDir('aftercall-data-');
  const app = await startApp(data.dir);
  const browser = await openBrowser(kind);
  await browser.page.goto(app.url);
  await browser.page.locator('#person').waitFor();
  // The user starts typing once the cursor is in the person field.
  await eventually(() => browser.page.evaluate(() => document.activeElement?.id === 'person'));
  const done = async () => { await browser.close(); await app.stop(); data.cleanup(); };
  return { page: browser.page, app, dataDir: data.dir, done };
}

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
