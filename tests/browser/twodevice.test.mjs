// Two devices in browser mode, each with its own data directory, paired through a
// real relay on loopback: a capture on one appears on the other without a reload;
// with the relay stopped both keep working and say so; after a restart they converge.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { relayBinary, tempDir, startApp, startRelay, freePort, openBrowser, go, eventually, shot } from './lib.mjs';

async function device(name) {
  const data = tempDir(`aftercall-${name}-`);
  const app = await startApp(data.dir);
  const browser = await openBrowser('desktop');
  await browser.page.goto(app.url);
  await browser.page.locator('#person').waitFor();
  return { page: browser.page, done: async () => { await browser.close(); await app.stop(); data.cleanup(); } };
}

async function state(page) {
  return (await page.locator('#sync-state').innerText().catch(() => '')).trim();
}

async function capture(page, who, what) {
  await go(page, 'desktop', 'capture');
  await page.locator('#person').fill(who);
  await page.locator('#talked-about').fill(what);
  await page.locator('#save').click();
  await eventually(async () => (await page.locator('#saved').innerText().catch(() => '')).includes(who));
}

test('two devices paired through a relay: captures cross over live, offline is honest, both converge after a restart', { skip: !existsSync(relayBinary()) && 'no relay binary: cargo build -p aftercall-sync-server' }, async () => {
  const port = await freePort();
  const relayData = tempDir('aftercall-relay-');
  let stopRelay = (await startRelay({ port, data: relayData })).stop;
  const a = await device('a');
  const b = await device('b');
  try {
    const relay = `ws://127.0.0.1:${port}`;
    await go(a.page, 'desktop', 'sync');
    await a.page.locator('#relay').fill(relay);
    await a.page.locator('#sync-create').click();
    await eventually(async () => (await state(a.page)) === 'Up to date', 30000);
    await a.page.locator('#show-phrase').click();
    const phrase = (await a.page.locator('#recovery-phrase').innerText()).trim();

    await go(b.page, 'desktop', 'sync');
    await b.page.locator('#relay').fill(relay);
    await b.page.locator('#pair-phrase').fill(phrase);
    await b.page.locator('#sync-pair').click();
    await eventually(async () => (await state(b.page)) === 'Up to date', 30000);
    await shot(b.page, 'desktop-sync-paired');

    // A capture on one shows on the other, no reload.
    await go(b.page, 'desktop', 'people');
    await capture(a.page, 'Jo Synced', 'met through the relay');
    await eventually(async () => (await b.page.locator('#people-list').innerText()).includes('Jo Synced'), 30000);

    // Relay down: both say offline and keep working.
    await stopRelay();
    for (const d of [a, b]) {
      await go(d.page, 'desktop', 'sync');
      await eventually(async () => ['Offline', 'Connecting…'].includes(await state(d.page)), 30000);
    }
    await shot(a.page, 'desktop-sync-offline');
    await capture(a.page, 'Kim Offline', 'written while the relay was down');
    await capture(b.page, 'Lee Offline', 'also written offline');

    // Relay back: they converge.
    stopRelay = (await startRelay({ port, data: relayData })).stop;
    for (const [d, other] of [[a, 'Lee Offline'], [b, 'Kim Offline']]) {
      await go(d.page, 'desktop', 'people');
      await eventually(async () => (await d.page.locator('#people-list').innerText()).includes(other), 90000);
    }
  } finally {
    await a.done();
    await b.done();
    await stopRelay();
    relayData.cleanup();
  }
});

test('Sync & devices lists the account\'s devices, renames one and removes another, which then says it was removed', { skip: !existsSync(relayBinary()) && 'no relay binary: cargo build -p aftercall-sync-server' }, async () => {
  const port = await freePort();
  const relayData = tempDir('aftercall-relay-');
  const { stop: stopRelay } = await startRelay({ port, data: relayData });
  const a = await device('a');
  const b = await device('b');
  try {
    const relay = `ws://127.0.0.1:${port}`;
    await go(a.page, 'desktop', 'sync');
    await a.page.locator('#relay').fill(relay);
    await a.page.locator('#sync-create').click();
    await eventually(async () => (await state(a.page)) === 'Up to date', 30000);
    await a.page.locator('#show-phrase').click();
    const phrase = (await a.page.locator('#recovery-phrase').innerText()).trim();
    await go(b.page, 'desktop', 'sync');
    await b.page.locator('#relay').fill(relay);
    await b.page.locator('#pair-phrase').fill(phrase);
    await b.page.locator('#sync-pair').click();
    await eventually(async () => (await state(b.page)) === 'Up to date', 30000);

    // Both devices are listed, this one marked.
    await a.page.locator('#devices-show').click();
    await eventually(async () => (await a.page.locator('#devices li.device').count()) === 2, 30000);
    const mine = a.page.locator('#devices li.device', { hasText: '(this device)' });
    assert.equal(await mine.count(), 1);
    assert.match(await mine.innerText(), /Last synced/);
    const other = a.page.locator('#devices li.device', { hasNotText: '(this device)' });
    assert.equal(await mine.getByRole('button', { name: 'Remove…' }).count(), 0, 'no removing this device');

    // Renamed.
    await other.getByRole('button', { name: 'Rename' }).click();
    await other.locator('input').fill('Old desk');
    await other.getByRole('button', { name: 'Save name' }).click();
    await eventually(async () => /Old desk/.test(await a.page.locator('#devices').innerText()), 30000);
    await shot(a.page, 'desktop-sync-devices');

    // Removed behind a confirmation: the other device says so and stops.
    const renamed = a.page.locator('#devices li.device', { hasText: 'Old desk' });
    await renamed.getByRole('button', { name: 'Remove…' }).click();
    await renamed.getByRole('button', { name: 'Remove Old desk' }).click();
    await eventually(async () => (await a.page.locator('#devices li.device').count()) === 1, 30000);
    await eventually(async () => /Removed from the account/.test(await state(b.page)), 30000);
  } finally {
    await a.done();
    await b.done();
    await stopRelay();
    relayData.cleanup();
  }
});
