// Fast typing never drops or reorders a character: 300 characters at zero delay
// into every text field, in browser mode at both viewports and in the phone web app. The capture form's
// text is also checked where the app keeps it (the autosaved draft), which proves
// the app itself, not only the page, saw every keystroke in order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { session, tap, go, eventually, fastText, TARGETS, webBuilt } from './lib.mjs';

async function typeInto(page, selector, text) {
  await page.locator(selector).fill('');
  await page.locator(selector).click();
  await page.keyboard.type(text, { delay: 0 });
  const value = await page.locator(selector).inputValue();
  assert.equal(value, text, `${selector} lost or reordered characters`);
}

for (const { name, kind, web } of TARGETS) {
  const skip = web && !webBuilt && 'the phone web app is not built';
  test(`${name}: 300 characters typed at zero delay into every capture field are all kept`, { skip }, async () => {
    const s = await session(kind, { web });
    const { page } = s;
    try {
      await tap(page, kind, '#add-referral');
      await page.locator('#referral-1-name').waitFor();
      const fields = {
        '#person': (d) => d.person_text,
        '#talked-about': (d) => d.capture.talked_about,
        '#recommended': (d) => d.capture.recommended,
        '#next-step': (d) => d.capture.next_step,
        '#observations': (d) => d.capture.observations,
        '#referral-1-name': (d) => d.capture.referrals[0].name,
        '#referral-1-reach': (d) => d.capture.referrals[0].reach,
      };
      let seed = 0;
      for (const [selector, read] of Object.entries(fields)) {
        const text = fastText(seed++);
        await typeInto(page, selector, text);
        await eventually(async () => read((await s.draft()) ?? { capture: { referrals: [{}] } }) === text, 15000)
          .catch(async () => assert.fail(`the app did not keep every character typed into ${selector}: ${JSON.stringify(read(await s.draft()))}`));
      }
    } finally {
      await s.done();
    }
  });

  test(`${name}: 300 characters typed at zero delay into search, event and edit fields are all kept`, { skip }, async () => {
    const s = await session(kind, { web });
    const { page } = s;
    try {
      // Someone to edit.
      await page.keyboard.type('Hal Typist');
      await page.locator('#talked-about').fill('first call');
      await tap(page, kind, '#save');
      await page.locator('#saved').waitFor();

      await go(page, kind, 'people');
      await typeInto(page, '#search', fastText(10));
      await page.locator('#search').fill('');
      await tap(page, kind, page.locator('.person-row', { hasText: 'Hal Typist' }));
      await page.locator('#diary').waitFor();
      await tap(page, kind, page.locator('#diary button', { hasText: 'Edit' }));
      const textareas = page.locator('#diary textarea');
      await textareas.first().waitFor();
      const n = await textareas.count();
      assert.ok(n >= 4, `the diary editor has ${n} text areas`);
      for (let i = 0; i < n; i++) {
        const id = await textareas.nth(i).getAttribute('id');
        await typeInto(page, `#${id}`, fastText(20 + i));
      }
      await tap(page, kind, page.locator('#diary button', { hasText: 'Save changes' }));
      await eventually(async () => (await page.locator('#diary').innerText()).includes(fastText(20)));

      await tap(page, kind, page.locator('button', { hasText: 'Edit details' }));
      await page.locator('#person-edit-org').waitFor();
      for (const id of ['person-edit-org', 'person-edit-role', 'person-edit-how-met', 'person-edit-notes']) {
        await typeInto(page, `#${id}`, fastText(id.length));
      }

      await go(page, kind, 'event');
      await typeInto(page, '#event-name', fastText(40));
      await tap(page, kind, '#event-start');
      await page.locator('#met-name').waitFor();
      for (const id of ['met-name', 'met-line', 'met-referral']) {
        await typeInto(page, `#${id}`, fastText(id.length + 50));
      }
    } finally {
      await s.done();
    }
  });
}
