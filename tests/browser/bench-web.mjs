// Benchmark of the phone web app (not a test; figures are printed, and recorded in
// docs/benchmarks.md): the compressed size of its wasm and JavaScript, the
// bootstrap of a desktop's 10,000 conversations from the relay when the phone
// pairs, capture and search latency on the phone's private file system with them
// stored, and cold start from the service worker's cache with no server.
//
// Usage (release builds):
//   bash app/web/build.sh --release target/web-release
//   cargo build --release -p aftercall-app -p aftercall-sync-server -p aftercall-tests --bin bench-store
//   AFTERCALL_WEB_DIR=target/web-release AFTERCALL_BIN=target/release/aftercall \
//     node tests/browser/bench-web.mjs [CONVERSATIONS]

import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { chromium } from 'playwright-core';
import { appBinary, tempDir, startRelay, webDir, CHROMIUM, CHROMIUM_FLAGS, VIEWPORTS, eventually, go, tap } from './lib.mjs';

const conversations = Number(process.argv[2] || 10000);
const bin = dirname(appBinary());
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
const mib = (n) => `${(n / 1048576).toFixed(2)} MiB`;

function percentile(samples, p) {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.round((sorted.length - 1) * p)];
}

// Size.
const wasm = statSync(join(webDir, 'pkg', 'aftercall_web_bg.wasm.gz')).size;
const js = statSync(join(webDir, 'pkg', 'aftercall_web.js.gz')).size;
console.log(`size: wasm ${mib(wasm)} gzip (${mib(statSync(join(webDir, 'pkg', 'aftercall_web_bg.wasm')).size)} raw), JS ${kib(js)} gzip; together ${mib(wasm + js)} (target <= 3 MB)`);

// A desktop with `conversations` conversations (1 person per 10), synced to the relay.
const relayData = tempDir('aftercall-bench-relay-');
const relay = await startRelay({ web: webDir, data: relayData });
const desk = tempDir('aftercall-bench-desk-');
const cli = (...args) => execFileSync(join(bin, 'aftercall'), ['--data-dir', desk.dir, ...args], { encoding: 'utf8', env: { ...process.env, AFTERCALL_LOG: 'warn' } });
execFileSync(join(bin, 'bench-store'), [String(Math.max(1, conversations / 10)), String(conversations), '--keep', join(desk.dir, 'aftercall.sqlite'), '--capture-only'], { stdio: 'ignore' });
// `init` creates the account on the relay and uploads everything.
const phrase = cli('init', '--relay', `ws://127.0.0.1:${relay.port}`).split('\n').map((l) => l.trim()).find((l) => l.split(' ').length === 24);
console.log(`desktop: ${conversations} conversations; ${cli('status').trim()}`);

const profile = tempDir('aftercall-bench-chromium-');
const launch = () => chromium.launchPersistentContext(profile.dir, {
  executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, ...VIEWPORTS.phone,
});

let context = await launch();
let page = context.pages()[0] || await context.newPage();
page.setDefaultTimeout(60000);
await page.goto(relay.url);
await page.locator('#person').waitFor();
await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));

// Bootstrap: from tapping Pair to the phone holding everything.
await go(page, 'phone', 'sync');
await page.locator('#pair-phrase').fill(phrase);
let started = Date.now();
await tap(page, 'phone', '#sync-pair');
await page.getByText('Paired: this device now syncs with your account.').waitFor({ timeout: 600000 });
const bootstrap = (Date.now() - started) / 1000;
console.log(`bootstrap: ${conversations} conversations from the relay into the web app in ${bootstrap.toFixed(2)} s (target <= 15 s)`);

// Capture, through the screens: the request's round trip from the page to the
// store's worker and back, as the page's timeline records it.
const measures = (name) => page.evaluate((n) => performance.getEntriesByName(n).map((e) => e.duration), name);
await page.evaluate(() => performance.clearMeasures());
await go(page, 'phone', 'capture');
const captures = 200;
for (let i = 0; i < captures; i++) {
  await page.locator('#person').fill(`Bench Phone ${i}`);
  await page.locator('#talked-about').fill(`capture ${i} on the phone about pricing`);
  await page.locator('#save').click();
  await eventually(async () => (await page.locator('#saved').innerText().catch(() => '')).includes(`Bench Phone ${i}`), 20000);
}
const capture = await measures('aftercall capture');
console.log(`capture (${capture.length} on OPFS with ${conversations} stored): p50 ${percentile(capture, 0.5).toFixed(2)} ms, p99 ${percentile(capture, 0.99).toFixed(2)} ms (target p99 <= 20 ms)`);

// Search: prefixes typed into People, each a search of names and every note.
await go(page, 'phone', 'people');
await page.evaluate(() => performance.clearMeasures());
const words = ['pri', 'pricing', 'hir', 'hiring', 'onb', 'conf', 'intro', 'bench', 'capture', 'deck'];
for (let round = 0; round < 5; round++) {
  for (const word of words) {
    await page.locator('#search').fill(word);
    await page.waitForTimeout(250);
    await page.locator('#search').fill('');
    await page.waitForTimeout(50);
  }
}
const search = await measures('aftercall search_people');
console.log(`search (${search.length} queries over ${conversations + captures} conversations): p50 ${percentile(search, 0.5).toFixed(2)} ms, p99 ${percentile(search, 0.99).toFixed(2)} ms (target p50 <= 10 ms)`);

// Cold start with no server: a new browser on the same profile, the app from the
// service worker's cache, until the cursor is in Capture's person field.
await context.close();
await relay.stop();
const starts = [];
for (let run = 0; run < 7; run++) {
  context = await launch();
  page = context.pages()[0] || await context.newPage();
  started = Date.now();
  await page.goto(relay.url);
  await page.locator('#person').waitFor({ timeout: 60000 });
  await eventually(() => page.evaluate(() => document.activeElement?.id === 'person'), 30000);
  starts.push(Date.now() - started);
  await context.close();
}
console.log(`cold start from the service worker's cache (${starts.length} launches): median ${percentile(starts, 0.5)} ms, slowest ${Math.max(...starts)} ms (target <= 1500 ms); runs ${starts.join(', ')}`);

profile.cleanup();
desk.cleanup();
relayData.cleanup();
