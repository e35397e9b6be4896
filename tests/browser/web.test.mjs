// The phone web app (`bash app/web/build.sh`), served by the relay with `--web`, in
// Chromium at phone size: the store in its worker on the origin-private file system.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { cli, tempDir, startApp, startRelay, webDir, openBrowser, tap, go, shot, eventually, CHROMIUM, CHROMIUM_FLAGS } from './lib.mjs';

/** The relay serving the web app in `dir`, on `port` with `data` when given. */
const serveWeb = (dir = webDir, { port, data } = {}) => startRelay({ web: dir, port, data });

async function syncState(page) {
  return (await page.locator('#sync-state').innerText().catch(() => '')).trim();
}

/** Opens a person's diary from People and edits the first conversation's notes. */
async function editTalkedAbout(page, kind, who, change) {
  await go(page, kind, 'people');
  await tap(page, kind, page.locator('.person-row', { hasText: who }));
  await page.locator('#diary').waitFor();
  await tap(page, kind, page.locator('#diary button', { hasText: 'Edit' }).first());
  const field = page.locator('#diary textarea[id$="-talked"]');
  await field.fill(change(await field.inputValue()));
  await tap(page, kind, page.locator('#diary button', { hasText: 'Save changes' }));
  await page.getByText('Changes saved.').waitFor();
}

test('phone web app: a capture is kept on the phone across a reload, and a second tab is kept out', async () => {
  const relay = await serveWeb();
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
    await other.getByRole('heading', { name: 'Aftercall is open in another tab' }).waitFor({ timeout: 30000 });
    assert.match(await other.locator('main').innerText(), /Use that one, or close it and reload this page/);
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
  const relay = await serveWeb(site.dir);
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

test('phone web app and a desktop device pair through a relay and converge both ways, a note edited on both while apart included', async () => {
  const relayData = tempDir('aftercall-relay-');
  let relay = await serveWeb(webDir, { data: relayData });
  const desk = tempDir('aftercall-desk-');
  const relayUrl = `ws://127.0.0.1:${relay.port}`;
  let desktopUi = null;
  const browser = await openBrowser('phone');
  const { page } = browser;
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    // The desktop: an account on the relay, a conversation, synced.
    const init = cli(desk.dir, 'init', '--relay', relayUrl);
    const phrase = init.split('\n').map((l) => l.trim()).find((l) => l.split(' ').length === 24);
    assert.ok(phrase, `no recovery phrase in: ${init}`);
    cli(desk.dir, 'capture', '--with', 'Dana Desk', '--kind', 'value', '--talked', 'the roadmap review');
    cli(desk.dir, 'sync');

    // The phone pairs by typing the relay and the phrase, and gets the desktop's notes.
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    await go(page, 'phone', 'sync');
    assert.equal(await syncState(page), 'Not set up: this device only');
    // The relay that served the app is the one suggested.
    assert.equal(await page.locator('#relay').inputValue(), `${relayUrl}/sync`);
    await page.locator('#pair-phrase').fill(phrase);
    await tap(page, 'phone', '#sync-pair');
    await page.getByText('Paired: this device now syncs with your account.').waitFor({ timeout: 60000 });
    await eventually(async () => (await syncState(page)) === 'Up to date', 30000);
    await shot(page, 'web-sync-paired');
    await go(page, 'phone', 'people');
    await eventually(async () => /Dana Desk/.test(await page.locator('#people-list').innerText()), 20000);

    // A capture on the phone reaches the desktop.
    await go(page, 'phone', 'capture');
    await tap(page, 'phone', '#person');
    await page.keyboard.type('Pia Phone');
    await page.keyboard.press('Enter');
    await page.keyboard.type('coffee after the meetup');
    await tap(page, 'phone', '#save');
    await page.locator('#saved').waitFor();
    await go(page, 'phone', 'sync');
    await eventually(async () => (await page.locator('#sync-pending').innerText()) === 'Nothing waiting to upload'
      && (await syncState(page)) === 'Up to date', 30000);
    cli(desk.dir, 'sync');
    assert.match(cli(desk.dir, 'people'), /Pia Phone/);

    // Apart: the relay stops; the phone says so and both edit the same note.
    await relay.stop();
    await eventually(async () => ['Offline', 'Connecting…'].includes(await syncState(page)), 30000);
    await shot(page, 'web-sync-offline');
    await editTalkedAbout(page, 'phone', 'Dana Desk', (t) => `${t}, and the phone's hiring question`);
    desktopUi = await startApp(desk.dir);
    const desktop = await openBrowser('desktop');
    try {
      await desktop.page.goto(desktopUi.url);
      await desktop.page.locator('#person').waitFor();
      await editTalkedAbout(desktop.page, 'desktop', 'Dana Desk', (t) => `Budget first: ${t}`);
    } finally {
      await desktop.close();
      await desktopUi.stop();
      desktopUi = null;
    }

    // Together again: the relay is back where it was, and both edits are on both.
    relay = await serveWeb(webDir, { port: relay.port, data: relayData });
    // The phone hears that the network is back and connects at once.
    await browser.context.setOffline(true);
    await browser.context.setOffline(false);
    const merged = /Budget first: the roadmap review, and the phone's hiring question/;
    await eventually(async () => {
      cli(desk.dir, 'sync');
      return merged.test(cli(desk.dir, 'diary', 'Dana Desk'));
    }, 90000);
    await go(page, 'phone', 'people');
    await tap(page, 'phone', page.locator('.person-row', { hasText: 'Dana Desk' }));
    await eventually(async () => merged.test(await page.locator('#diary').innerText()), 90000);
    await shot(page, 'web-diary-merged');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    if (desktopUi) await desktopUi.stop();
    await relay.stop();
    relayData.cleanup();
    desk.cleanup();
  }
});

/**
 * Chromium started by hand on `profile` (so that it can be killed like a phone
 * killing an app), driven over the DevTools protocol at phone size.
 */
async function launchChromium(profile) {
  const child = spawn(CHROMIUM, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  const endpoint = await new Promise((resolveEndpoint, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`Chromium gave no DevTools address: ${err}`)), 30000);
    child.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolveEndpoint(m[1]); }
    });
  });
  const browser = await chromium.connectOverCDP(endpoint);
  const context = browser.contexts()[0];
  const page = context.pages()[0] || await context.newPage();
  await page.setViewportSize({ width: 390, height: 844 });
  page.setDefaultTimeout(15000);
  const exited = new Promise((done) => child.once('exit', done));
  return {
    page,
    /** Closes the browser as a person would (a connected browser's own close only disconnects). */
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const cdp = await browser.newBrowserCDPSession();
        await cdp.send('Browser.close').catch(() => {});
      }
      await exited;
    },
    /** Kills every process of the browser at once. */
    kill: async () => { process.kill(-child.pid, 'SIGKILL'); await exited; await browser.close().catch(() => {}); },
  };
}

// A browser driven over the DevTools protocol has no touch emulation: these click.
async function captureOn(page, who, what) {
  await go(page, 'desktop', 'capture');
  await page.locator('#person').fill(who);
  await page.locator('#talked-about').fill(what);
  await tap(page, 'desktop', '#save');
  await page.locator('#saved').waitFor();
  assert.match(await page.locator('#saved').innerText(), new RegExp(who));
}

async function openApp(page, url) {
  await page.goto(url);
  await page.locator('#person').waitFor({ timeout: 60000 });
}

async function peopleOn(page) {
  await go(page, 'desktop', 'people');
  await page.locator('#people-list').waitFor();
  return page.locator('#people-list').innerText();
}

test('phone web app: captures made offline survive closing the browser, and killing it the moment Save returns', async () => {
  const relay = await serveWeb();
  const profile = tempDir('aftercall-chromium-');
  let browser = await launchChromium(profile.dir);
  let stopped = false;
  try {
    await openApp(browser.page, relay.url);
    await browser.page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await relay.stop();
    stopped = true;

    await captureOn(browser.page, 'Cara Closed', 'written offline, then the browser was closed');
    await browser.close();
    browser = await launchChromium(profile.dir);
    await openApp(browser.page, relay.url);
    assert.match(await peopleOn(browser.page), /Cara Closed/);

    // Killed right after the reply to Save came back: nothing else ran in between.
    await captureOn(browser.page, 'Kai Killed', 'written offline, then the browser was killed');
    await browser.kill();
    browser = await launchChromium(profile.dir);
    await openApp(browser.page, relay.url);
    const people = await peopleOn(browser.page);
    assert.match(people, /Cara Closed/);
    assert.match(people, /Kai Killed/);
    await browser.page.locator('#search').fill('killed');
    await eventually(async () => /Kai Killed/.test(await browser.page.locator('#people-list').innerText()));
  } finally {
    await browser.close().catch(() => {});
    if (!stopped) await relay.stop();
    profile.cleanup();
  }
});

/** Every visible control on the page smaller than `min` px in either direction. */
function smallControls(page, min) {
  return page.evaluate((least) => {
    const small = [];
    for (const el of document.querySelectorAll('button, input, textarea, select, a[href], [role="switch"], [role="radio"]')) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue; // not shown
      // A date field inside its chip: the chip is the target.
      const target = el.closest('.date-chip') || el;
      const hit = target.getBoundingClientRect();
      if (hit.height < least || hit.width < least) small.push(`${el.id || el.className || el.tagName} ${Math.round(hit.width)}×${Math.round(hit.height)}`);
    }
    return small;
  }, min);
}

test('phone web app: touch targets of at least 44 px, clear of the notch and home indicator, and Save above the keyboard', async () => {
  const relay = await serveWeb();
  const browser = await openBrowser('phone');
  const { page, context } = browser;
  try {
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    // An iPhone's insets: the notch at the top, the home indicator at the bottom.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setSafeAreaInsetsOverride', { insets: { top: 47, bottom: 34, left: 0, right: 0 } });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    for (const screen of ['capture', 'today', 'people', 'review', 'sync']) {
      await go(page, 'phone', screen);
      await page.locator('main h1, main #person').first().waitFor();
      assert.deepEqual(await smallControls(page, 44), [], `controls under 44 px on ${screen}`);
      const layout = await page.evaluate(() => {
        const nav = document.querySelector('.nav').getBoundingClientRect();
        const first = document.querySelector('main h1, main label').getBoundingClientRect();
        const items = [...document.querySelectorAll('.nav-item')].map((i) => i.getBoundingClientRect()).filter((b) => b.height > 0);
        return { navBottom: nav.bottom, firstTop: first.top, itemBottom: Math.max(...items.map((i) => i.bottom)), itemHeight: Math.min(...items.map((i) => i.height)), viewport: innerHeight };
      });
      assert.ok(layout.firstTop >= 47, `${screen}: the top of the screen sits under the notch (${layout.firstTop} px)`);
      assert.ok(layout.itemBottom <= layout.viewport - 34, `${screen}: the bottom bar's buttons reach into the home indicator (${layout.itemBottom} of ${layout.viewport} px)`);
      assert.ok(layout.itemHeight >= 44, `${screen}: bottom bar buttons ${layout.itemHeight} px tall`);
    }
    await shot(page, 'web-sync-safe-area');

    // The keyboard open (the page resizes to what is left, as the viewport asks):
    // typing in the last field of the form, Save is still in sight, above the bar.
    await go(page, 'phone', 'capture');
    await page.setViewportSize({ width: 390, height: 844 - 336 });
    await tap(page, 'phone', '#observations');
    await page.keyboard.type('typed with the keyboard up');
    const { save, nav, viewport } = await page.evaluate(() => ({
      save: document.querySelector('#save').getBoundingClientRect().toJSON(),
      nav: document.querySelector('.nav').getBoundingClientRect().toJSON(),
      viewport: innerHeight,
    }));
    assert.ok(save.top >= 0 && save.bottom <= nav.top, `Save (${save.top}–${save.bottom}) is not visible above the bar at ${nav.top} of ${viewport}`);
    await shot(page, 'web-capture-keyboard');
  } finally {
    await browser.close();
    await relay.stop();
  }
});

test('phone web app: when the network comes back it syncs at once, not at the next retry', async () => {
  const relayData = tempDir('aftercall-relay-');
  let relay = await serveWeb(webDir, { data: relayData });
  const browser = await openBrowser('phone');
  const { page, context } = browser;
  try {
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    await go(page, 'phone', 'sync');
    await tap(page, 'phone', '#sync-create');
    await eventually(async () => (await syncState(page)) === 'Up to date', 30000);

    // The relay away for 40 s: the retries back off to 1, 2, 4, 8, 16, then 32 s.
    await relay.stop();
    await eventually(async () => ['Offline', 'Connecting…'].includes(await syncState(page)), 30000);
    await page.waitForTimeout(40000);
    relay = await serveWeb(webDir, { port: relay.port, data: relayData });
    // The next retry is still far off; the network coming back starts one now.
    const back = Date.now();
    await context.setOffline(true);
    await context.setOffline(false);
    await eventually(async () => (await syncState(page)) === 'Up to date', 10000);
    console.log(`up to date ${Date.now() - back} ms after the network came back`);
  } finally {
    await browser.close();
    await relay.stop();
    relayData.cleanup();
  }
});

/**
 * A camera's view of the QR code that `page` shows on Sync & devices, as a Y4M file
 * for Chromium's fake camera: the code at 360 px on a grey desk, 640×480.
 */
async function cameraFileOfQr(page, path) {
  const [width, height] = [640, 480];
  const luma = await page.evaluate(async ([width, height]) => {
    const svg = document.querySelector('.qr svg');
    const image = new Image();
    image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(new XMLSerializer().serializeToString(svg))}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext('2d');
    context.fillStyle = '#6b6b6b';
    context.fillRect(0, 0, width, height);
    context.fillStyle = '#ffffff';
    context.fillRect(130, 50, 380, 380);
    context.drawImage(image, 140, 60, 360, 360);
    const { data } = context.getImageData(0, 0, width, height);
    const y = [];
    for (let i = 0; i < data.length; i += 4) y.push(Math.round(0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]));
    return y;
  }, [width, height]);
  const chroma = Buffer.alloc((width / 2) * (height / 2), 128);
  writeFileSync(path, Buffer.concat([
    Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\nFRAME\n`),
    Buffer.from(luma), chroma, chroma,
  ]));
}

test('phone web app: pairs by scanning the QR code the desktop shows, with the camera', async () => {
  const relay = await serveWeb();
  const relayUrl = `ws://127.0.0.1:${relay.port}`;
  const desk = tempDir('aftercall-desk-');
  const camera = tempDir('aftercall-camera-');
  let phone = null;
  try {
    // The desktop: an account on the relay and a conversation, synced.
    const init = cli(desk.dir, 'init', '--relay', relayUrl);
    const phrase = init.split('\n').map((l) => l.trim()).find((l) => l.split(' ').length === 24);
    assert.ok(phrase, `no recovery phrase in: ${init}`);
    cli(desk.dir, 'capture', '--with', 'Quinn Scanned', '--kind', 'value', '--talked', 'met at the QR booth');
    cli(desk.dir, 'sync');

    // Its Sync & devices screen shows the QR code; the phone's camera will see it.
    const desktopUi = await startApp(desk.dir);
    const desktop = await openBrowser('desktop');
    try {
      await desktop.page.goto(desktopUi.url);
      await go(desktop.page, 'desktop', 'sync');
      await tap(desktop.page, 'desktop', '#show-phrase');
      assert.equal((await desktop.page.locator('#recovery-phrase').innerText()).trim(), phrase);
      await desktop.page.locator('.qr svg').waitFor();
      await cameraFileOfQr(desktop.page, join(camera.dir, 'qr.y4m'));
    } finally {
      await desktop.close();
      await desktopUi.stop();
    }

    phone = await openBrowser('phone', {
      args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
        `--use-file-for-fake-video-capture=${join(camera.dir, 'qr.y4m')}`],
      permissions: ['camera'],
    });
    const { page } = phone;
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    await go(page, 'phone', 'sync');
    await page.locator('#scan-code').waitFor();
    await shot(page, 'web-sync-scan');
    // Headless Chromium on Linux has no BarcodeDetector: the app's own reader reads it.
    assert.equal(await page.evaluate(() => 'BarcodeDetector' in window), false);
    await tap(page, 'phone', '#scan-code');
    await page.getByText('Paired: this device now syncs with your account.').waitFor({ timeout: 60000 });
    assert.equal(await page.locator('#pair-phrase').count(), 0, 'the set-up form gives way to the account');
    await eventually(async () => (await syncState(page)) === 'Up to date', 30000);
    // The camera is released once the code is read.
    assert.equal(await page.locator('#scan-video').count(), 0);
    await go(page, 'phone', 'people');
    await eventually(async () => /Quinn Scanned/.test(await page.locator('#people-list').innerText()), 20000);
    assert.deepEqual(errors, []);
  } finally {
    if (phone) await phone.close();
    await relay.stop();
    desk.cleanup();
    camera.cleanup();
  }
});

test('phone web app: scanning shows the camera until cancelled, and a camera refused is said plainly', async () => {
  const relay = await serveWeb();
  const browsers = [];
  try {
    // Chromium's own fake camera: a moving test pattern, no code in it.
    const withCamera = await openBrowser('phone', {
      args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
      permissions: ['camera'],
    });
    browsers.push(withCamera);
    let page = withCamera.page;
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    await go(page, 'phone', 'sync');
    await tap(page, 'phone', '#scan-code');
    await page.locator('#scan-video').waitFor();
    await eventually(() => page.evaluate(() => {
      const video = document.getElementById('scan-video');
      return video && video.readyState >= 2 && video.videoWidth > 0 && !video.paused;
    }));
    await page.waitForTimeout(1000);
    await shot(page, 'web-sync-scanning');
    assert.equal(await page.locator('#notice').count(), 0, 'nothing read, nothing said');
    await tap(page, 'phone', '#scan-cancel');
    await page.locator('#scan-code').waitFor();
    assert.equal(await page.locator('#scan-video').count(), 0);
    assert.equal(await page.locator('#notice').count(), 0);
    assert.equal(await syncState(page), 'Not set up: this device only');

    // A browser that gives no camera: the person is told, and typing still works.
    const noCamera = await openBrowser('phone');
    browsers.push(noCamera);
    page = noCamera.page;
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    await go(page, 'phone', 'sync');
    await tap(page, 'phone', '#scan-code');
    await page.getByText(/The camera cannot be used here \(.+\); type the phrase instead\./).waitFor({ timeout: 30000 });
    await page.locator('#scan-code').waitFor();
    await page.locator('#pair-phrase').waitFor();
  } finally {
    for (const b of browsers) await b.close();
    await relay.stop();
  }
});

test('phone web app: a calendar picked on the Import screen asks how each meeting went, and notifies once allowed', async () => {
  const relay = await serveWeb();
  const browser = await openBrowser('phone');
  const { page, context } = browser;
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // The browser's prompt, answered "allow" (headless Chromium has none), and what
  // the service worker is asked to show, recorded in the page.
  await context.addInitScript(() => {
    let permission = 'default';
    Object.defineProperty(Notification, 'permission', { get: () => permission, configurable: true });
    Notification.requestPermission = async () => { permission = 'granted'; return permission; };
    window.shownNotifications = [];
    const show = ServiceWorkerRegistration.prototype.showNotification;
    ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
      window.shownNotifications.push({ title, body: options && options.body });
      return show.call(this, title, options).catch(() => {});
    };
  });
  try {
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    const stamp = (t) => t.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const event = (uid, start, minutes, summary, guest) => [
      'BEGIN:VEVENT', `UID:${uid}`, `DTSTART:${stamp(start)}`,
      `DTEND:${stamp(new Date(start.getTime() + minutes * 60000))}`, `SUMMARY:${summary}`,
      'LOCATION:Café Rosa, Main Street', 'ORGANIZER;CN=Me:mailto:me@example.com', guest, 'END:VEVENT',
    ];
    // One meeting ended an hour ago; the other ends a few seconds from now.
    const soon = new Date(Date.now() + 12000 - 30 * 60000);
    const ics = [
      'BEGIN:VCALENDAR', 'VERSION:2.0',
      ...event('coffee@x', new Date(Date.now() - 90 * 60000), 30, 'Coffee with Rosa', 'ATTENDEE;CN=Rosa Diaz:mailto:rosa@diaz.example'),
      ...event('lunch@x', soon, 30, 'Lunch with Kim', 'ATTENDEE;CN=Kim Park:mailto:kim@park.example'),
      'BEGIN:VEVENT', 'UID:broken@x', 'DTSTART:not-a-date', 'SUMMARY:Broken', 'END:VEVENT',
      'END:VCALENDAR', '',
    ].join('\r\n');

    await go(page, 'phone', 'transfer');
    await page.locator('#calendar-me').fill('me@example.com');
    await page.locator('#calendar-pick').setInputFiles({ name: 'calendar.ics', mimeType: 'text/calendar', buffer: Buffer.from(ics) });
    const report = page.locator('#calendar-report');
    await report.waitFor();
    assert.match(await report.innerText(), /2 meetings added/);
    assert.match(await report.innerText(), /Line \d+: /, 'the broken event is skipped with its line');
    await shot(page, 'web-import-calendar');

    await go(page, 'phone', 'today');
    const cards = page.locator('#meetings > li');
    await eventually(async () => (await cards.count()) === 1);
    assert.match(await cards.first().innerText(), /Coffee with Rosa/);
    assert.match(await cards.first().innerText(), /In person/);
    // Notifications are not allowed yet: Today offers to ask.
    const ask = page.locator('#ask-notifications');
    await ask.waitFor();
    assert.equal(await page.evaluate(() => window.shownNotifications.length), 0, 'nothing shown before it is allowed');
    await tap(page, 'phone', ask);
    await eventually(async () => (await ask.count()) === 0);
    await page.getByText('You will be asked how it went when a meeting ends.').waitFor();

    // The lunch ends: Today shows it by itself, and it is notified.
    await eventually(async () => (await cards.count()) === 2, 30000);
    assert.match(await cards.first().innerText(), /Lunch with Kim/);
    await eventually(async () => (await page.evaluate(() => window.shownNotifications.length)) > 0, 10000);
    const shown = await page.evaluate(() => window.shownNotifications);
    assert.ok(shown.some((n) => n.title === 'How did it go? Lunch with Kim' && n.body === 'With Kim Park · capture it from Today'), JSON.stringify(shown));
    await shot(page, 'web-today-meetings');

    // Dismissed and not networking: neither is asked about again, after a reload too.
    await tap(page, 'phone', cards.first().locator('button', { hasText: 'Dismiss' }));
    await eventually(async () => (await cards.count()) === 1);
    await tap(page, 'phone', cards.first().locator('button', { hasText: 'Not networking' }));
    await eventually(async () => (await page.locator('#meetings').count()) === 0);
    await page.reload();
    await page.locator('#person').waitFor({ timeout: 60000 });
    await go(page, 'phone', 'today');
    await page.locator('#today-title').waitFor();
    await page.waitForTimeout(500);
    assert.equal(await page.locator('#meetings').count(), 0);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await relay.stop();
  }
});

test('phone web app: Sync & devices lists the account\'s devices, renames the desktop and removes it, which is then refused', async () => {
  const relayData = tempDir('aftercall-relay-');
  const relay = await serveWeb(webDir, { data: relayData });
  const desk = tempDir('aftercall-desk-');
  const relayUrl = `ws://127.0.0.1:${relay.port}`;
  const browser = await openBrowser('phone');
  const { page } = browser;
  try {
    const init = cli(desk.dir, 'init', '--relay', relayUrl, '--name', 'Work desk');
    const phrase = init.split('\n').map((l) => l.trim()).find((l) => l.split(' ').length === 24);
    assert.ok(phrase, `no recovery phrase in: ${init}`);
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    await go(page, 'phone', 'sync');
    await page.locator('#pair-phrase').fill(phrase);
    await tap(page, 'phone', '#sync-pair');
    await eventually(async () => (await syncState(page)) === 'Up to date', 60000);

    await tap(page, 'phone', '#devices-show');
    await eventually(async () => (await page.locator('#devices li.device').count()) === 2, 30000);
    const desktop = page.locator('#devices li.device', { hasText: 'Work desk' });
    assert.equal(await desktop.count(), 1);
    const phone = page.locator('#devices li.device', { hasText: '(this device)' });
    assert.equal(await phone.getByRole('button', { name: 'Remove…' }).count(), 0, 'no removing this device');

    await tap(page, 'phone', desktop.getByRole('button', { name: 'Rename' }));
    await desktop.locator('input').fill('Old desk');
    await tap(page, 'phone', desktop.getByRole('button', { name: 'Save name' }));
    await eventually(async () => /Old desk/.test(await page.locator('#devices').innerText()), 30000);
    assert.match(cli(desk.dir, 'devices'), /Old desk \(this device\)/);
    await shot(page, 'web-sync-devices');

    const renamed = page.locator('#devices li.device', { hasText: 'Old desk' });
    await tap(page, 'phone', renamed.getByRole('button', { name: 'Remove…' }));
    await tap(page, 'phone', renamed.getByRole('button', { name: 'Remove Old desk' }));
    await eventually(async () => (await page.locator('#devices li.device').count()) === 1, 30000);
    assert.throws(() => cli(desk.dir, 'sync'), /removed from the account/);
  } finally {
    await browser.close();
    await relay.stop();
    desk.cleanup();
    relayData.cleanup();
  }
});

test('phone web app: a lost laptop is removed and the account re-keyed; the desktop moves over, the laptop is refused, and the new phrase is shown', async () => {
  const relayData = tempDir('aftercall-relay-');
  const relay = await serveWeb(webDir, { data: relayData });
  const desk = tempDir('aftercall-desk-');
  const lost = tempDir('aftercall-lost-');
  const relayUrl = `ws://127.0.0.1:${relay.port}`;
  const browser = await openBrowser('phone');
  const { page } = browser;
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    const init = cli(desk.dir, 'init', '--relay', relayUrl, '--name', 'Work desk');
    const phrase = init.split('\n').map((l) => l.trim()).find((l) => l.split(' ').length === 24);
    assert.ok(phrase, `no recovery phrase in: ${init}`);
    cli(desk.dir, 'capture', '--with', 'Dana Desk', '--kind', 'value', '--talked', 'before the laptop was lost');
    cli(desk.dir, 'sync');
    cli(lost.dir, 'pair', '--relay', relayUrl, '--phrase', phrase, '--name', 'Lost laptop');
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    await go(page, 'phone', 'sync');
    await page.locator('#pair-phrase').fill(phrase);
    await tap(page, 'phone', '#sync-pair');
    await eventually(async () => (await syncState(page)) === 'Up to date', 60000);

    await tap(page, 'phone', '#devices-show');
    await eventually(async () => (await page.locator('#devices li.device').count()) === 3, 30000);
    const laptop = page.locator('#devices li.device', { hasText: 'Lost laptop' });
    await tap(page, 'phone', laptop.getByRole('button', { name: 'Remove…' }));
    await laptop.getByText('Lost or stolen? Remove and re-key').waitFor();
    await tap(page, 'phone', laptop.getByRole('button', { name: 'Remove and re-key' }));
    const shown = page.locator('#new-phrase');
    await shown.waitFor({ timeout: 60000 });
    const newPhrase = (await shown.innerText()).trim();
    assert.equal(newPhrase.split(' ').length, 24, newPhrase);
    assert.notEqual(newPhrase, phrase);
    // Only this device is on the new key so far: the lost laptop never will be, the
    // desktop once it syncs.
    await eventually(async () => (await page.locator('#devices li.device').count()) === 1, 30000);
    await shot(page, 'web-sync-rekeyed');
    await tap(page, 'phone', page.getByRole('button', { name: 'I wrote it down' }));
    await eventually(async () => (await shown.count()) === 0);
    // The phone shows the new phrase from now on.
    const notices = page.locator('.notice-slot button');
    if (await notices.count()) await tap(page, 'phone', notices.first());
    await page.locator('#show-phrase').evaluate((b) => b.click());
    await eventually(async () => (await page.locator('#recovery-phrase').innerText()).trim() === newPhrase);

    // The desktop moves to the new key at its next sync; what it writes then
    // reaches the phone.
    cli(desk.dir, 'sync');
    cli(desk.dir, 'capture', '--with', 'Dana Desk', '--kind', 'value', '--talked', 'after the re-key');
    cli(desk.dir, 'sync');
    // Listed again under its name once it moved; the lost laptop is not.
    await go(page, 'phone', 'sync');
    await tap(page, 'phone', '#devices-show');
    await eventually(async () => {
      const list = await page.locator('#devices').innerText().catch(() => '');
      return /Work desk/.test(list) && !/Lost laptop/.test(list) && (await page.locator('#devices li.device').count()) === 2;
    }, 30000);
    await go(page, 'phone', 'people');
    await tap(page, 'phone', page.locator('.person-row', { hasText: 'Dana Desk' }));
    await eventually(async () => /after the re-key/.test(await page.locator('#diary').innerText()), 60000);
    // The lost laptop is refused.
    assert.throws(() => cli(lost.dir, 'sync'), /removed from the account/);
    // The old phrase pairs nothing.
    const stranger = tempDir('aftercall-stranger-');
    try {
      assert.throws(() => cli(stranger.dir, 'pair', '--relay', relayUrl, '--phrase', phrase), /re-keyed/);
      cli(stranger.dir, 'pair', '--relay', relayUrl, '--phrase', newPhrase);
      assert.match(cli(stranger.dir, 'diary', 'Dana Desk'), /after the re-key/);
    } finally {
      stranger.cleanup();
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await relay.stop();
    desk.cleanup();
    lost.cleanup();
    relayData.cleanup();
  }
});

test('phone web app: after the desktop removes a lost laptop and re-keys, the phone moves to the new key by itself and keeps syncing', async () => {
  const relayData = tempDir('aftercall-relay-');
  const relay = await serveWeb(webDir, { data: relayData });
  const desk = tempDir('aftercall-desk-');
  const lost = tempDir('aftercall-lost-');
  const relayUrl = `ws://127.0.0.1:${relay.port}`;
  const browser = await openBrowser('phone');
  const { page } = browser;
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    const init = cli(desk.dir, 'init', '--relay', relayUrl, '--name', 'Work desk');
    const phrase = init.split('\n').map((l) => l.trim()).find((l) => l.split(' ').length === 24);
    assert.ok(phrase, `no recovery phrase in: ${init}`);
    cli(desk.dir, 'sync');
    cli(lost.dir, 'pair', '--relay', relayUrl, '--phrase', phrase, '--name', 'Lost laptop');
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    await go(page, 'phone', 'sync');
    await page.locator('#pair-phrase').fill(phrase);
    await tap(page, 'phone', '#sync-pair');
    await eventually(async () => (await syncState(page)) === 'Up to date', 60000);

    // The phone writes while the desktop re-keys: nothing of it is lost.
    await go(page, 'phone', 'capture');
    await tap(page, 'phone', '#person');
    await page.keyboard.type('Pia Phone');
    await page.keyboard.press('Enter');
    await page.keyboard.type('written on the phone around the re-key');
    await tap(page, 'phone', '#save');
    await page.locator('#saved').waitFor();

    const said = cli(desk.dir, 'devices', 'remove', 'Lost laptop', '--rekey');
    const lines = said.split('\n').map((l) => l.trim());
    const newPhrase = lines.slice(lines.findIndex((l) => l.startsWith('New recovery phrase')) + 1).find((l) => l.split(' ').length === 24);
    assert.ok(newPhrase, said);
    cli(desk.dir, 'capture', '--with', 'Dana Desk', '--kind', 'value', '--talked', 'written on the desktop after the re-key');
    cli(desk.dir, 'sync');

    // The phone's next session is told where the account went, opens the new key
    // with its own, and syncs on: the desktop's note arrives, the phone's reaches it.
    await go(page, 'phone', 'people');
    await eventually(async () => /Dana Desk/.test(await page.locator('#people-list').innerText()), 90000);
    await go(page, 'phone', 'sync');
    await eventually(async () => (await syncState(page)) === 'Up to date', 60000);
    await page.locator('#show-phrase').evaluate((b) => b.click());
    await eventually(async () => (await page.locator('#recovery-phrase').innerText()).trim() === newPhrase, 30000);
    await shot(page, 'web-sync-moved');
    await eventually(() => /Pia Phone/.test(cli(desk.dir, 'sync') && cli(desk.dir, 'people')), 60000);
    assert.throws(() => cli(lost.dir, 'sync'), /removed from the account/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await relay.stop();
    desk.cleanup();
    lost.cleanup();
    relayData.cleanup();
  }
});

test('phone web app: a photo attached on a person page is kept in the phone\'s store, shows its thumbnail, opens, and survives a reload', async () => {
  const relay = await serveWeb();
  const browser = await openBrowser('phone');
  const { page } = browser;
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    await tap(page, 'phone', '#person');
    await page.keyboard.type('Ana Card');
    await page.keyboard.press('Enter');
    await page.keyboard.type('met at the fair');
    await tap(page, 'phone', '#save');
    await page.locator('#saved').waitFor();

    // A 640×480 photo, drawn by the browser itself.
    const png = Buffer.from(await page.evaluate(() => {
      const canvas = document.createElement('canvas');
      canvas.width = 640; canvas.height = 480;
      const g = canvas.getContext('2d');
      g.fillStyle = '#0a7d4f'; g.fillRect(0, 0, 640, 480);
      g.fillStyle = '#ffffff'; g.fillRect(60, 60, 400, 240);
      return canvas.toDataURL('image/png').split(',')[1];
    }), 'base64');
    const openPerson = async () => {
      await go(page, 'phone', 'people');
      await tap(page, 'phone', page.locator('.person-row', { hasText: 'Ana Card' }));
      await page.locator('#person-attachments').waitFor();
    };
    await openPerson();
    assert.equal(await page.locator('#person-attach-photo').getAttribute('capture'), 'environment');
    await page.locator('#person-attach-photo').setInputFiles({ name: 'card.png', mimeType: 'image/png', buffer: png });
    await page.getByText('Attached card.png').waitFor();
    const item = page.locator('#person-attachments .attachment', { hasText: 'card.png' });
    const thumb = item.locator('img.thumbnail');
    await thumb.waitFor();
    await eventually(() => thumb.evaluate((img) => img.complete && img.naturalWidth === 640));

    // The store is on the phone: a reload brings the photo back from it.
    await page.reload();
    await page.locator('#person').waitFor({ timeout: 60000 });
    await openPerson();
    await tap(page, 'phone', item.locator('button', { hasText: 'Open' }));
    const full = item.locator('.attachment-open img.full-size');
    await full.waitFor();
    await eventually(() => full.evaluate((img) => img.complete && img.naturalWidth === 640 && img.naturalHeight === 480));
    await shot(page, 'web-attachment-open');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await relay.stop();
  }
});

test('phone web app: a photo attached on the desktop reaches the phone through the relay and opens; one attached on the phone reaches the desktop byte for byte', async () => {
  const relayData = tempDir('aftercall-relay-');
  const relay = await serveWeb(webDir, { data: relayData });
  const desk = tempDir('aftercall-desk-');
  const relayUrl = `ws://127.0.0.1:${relay.port}`;
  const browser = await openBrowser('phone');
  const { page } = browser;
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(relay.url);
    await page.locator('#person').waitFor({ timeout: 60000 });
    // Two photos, drawn by the browser: one for each side.
    const photo = async (w, h, colour) => Buffer.from(await page.evaluate(([w, h, colour]) => {
      const canvas = document.createElement('canvas');
      canvas.width = w; canvas.height = h;
      const g = canvas.getContext('2d');
      g.fillStyle = colour; g.fillRect(0, 0, w, h);
      g.fillStyle = '#ffffff'; g.fillRect(w / 8, h / 8, w / 2, h / 3);
      return canvas.toDataURL('image/png').split(',')[1];
    }, [w, h, colour]), 'base64');
    const card = await photo(640, 480, '#0a7d4f');
    const whiteboard = await photo(800, 600, '#7d0a4f');

    // The desktop attaches a business card to a person and syncs.
    const init = cli(desk.dir, 'init', '--relay', relayUrl, '--name', 'Desk');
    const phrase = init.split('\n').map((l) => l.trim()).find((l) => l.split(' ').length === 24);
    assert.ok(phrase, `no recovery phrase in: ${init}`);
    cli(desk.dir, 'capture', '--with', 'Ana Card', '--kind', 'value', '--talked', 'met at the fair');
    const cardFile = join(desk.dir, 'card.png');
    writeFileSync(cardFile, card);
    cli(desk.dir, 'attach', 'Ana Card', cardFile);
    cli(desk.dir, 'sync');

    // The phone pairs; the card arrives with the records and opens at full size.
    await go(page, 'phone', 'sync');
    await page.locator('#pair-phrase').fill(phrase);
    await tap(page, 'phone', '#sync-pair');
    await eventually(async () => (await syncState(page)) === 'Up to date', 60000);
    const openPerson = async () => {
      await go(page, 'phone', 'people');
      await tap(page, 'phone', page.locator('.person-row', { hasText: 'Ana Card' }));
      await page.locator('#person-attachments').waitFor();
    };
    await openPerson();
    const cardItem = page.locator('#person-attachments .attachment', { hasText: 'card.png' });
    await cardItem.waitFor({ timeout: 30000 });
    await eventually(async () => {
      await openPerson();
      return cardItem.locator('img.thumbnail').evaluate((img) => img.complete && img.naturalWidth === 640);
    }, 30000);
    await tap(page, 'phone', cardItem.locator('button', { hasText: 'Open' }));
    const full = cardItem.locator('.attachment-open img.full-size');
    await full.waitFor();
    await eventually(() => full.evaluate((img) => img.complete && img.naturalWidth === 640 && img.naturalHeight === 480));
    await shot(page, 'web-attachment-synced');

    // The phone attaches a whiteboard photo; the desktop gets it byte for byte.
    await page.locator('#person-attach-photo').setInputFiles({ name: 'whiteboard.png', mimeType: 'image/png', buffer: whiteboard });
    await page.getByText('Attached whiteboard.png').waitFor();
    const saved = join(desk.dir, 'whiteboard-copy.png');
    await eventually(async () => {
      cli(desk.dir, 'sync');
      const list = JSON.parse(cli(desk.dir, 'attachments', 'Ana Card', '--json'));
      const board = list.find((a) => a.name === 'whiteboard.png');
      if (!board || !board.downloaded) return false;
      cli(desk.dir, 'attachment', 'save', board.id, '--out', saved);
      return true;
    }, 60000);
    assert.ok(readFileSync(saved).equals(whiteboard), 'the desktop holds the phone\'s photo byte for byte');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await relay.stop();
    desk.cleanup();
    relayData.cleanup();
  }
});
