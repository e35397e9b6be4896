// End to end in browser mode: the stories of the issue, at a phone (390×844, touch)
// and a desktop (1280×800) viewport, each from a fresh data directory.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, session, tap, go, shot, eventually, TARGETS, webBuilt } from './lib.mjs';

for (const { name, kind, web } of TARGETS) {
  const skip = web && !webBuilt && 'the phone web app is not built';
  // Screenshots of the web app are named web-…
  const label = web ? 'web' : kind;
  test(`${name}: a value call with a referral and a follow-up shows in Today, People, the diary and Review`, { skip }, async () => {
    const s = await session(kind, { web });
    const { page } = s;
    try {
      // Capture is the start screen with the cursor in the person field.
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'person');
      await shot(page, `${label}-capture-empty`);

      await page.keyboard.type('Ana Müller');
      await page.keyboard.press('Enter'); // keeps the typed name as a new person
      await eventually(async () => (await page.evaluate(() => document.activeElement?.id)) === 'talked-about');
      await tap(page, kind, '#kind-value');
      await tap(page, kind, '#talked-about');
      await page.keyboard.type('pricing for the onboarding workshop');
      await tap(page, kind, '#recommended');
      await page.keyboard.type('read Never Split the Difference');
      await tap(page, kind, '#business');
      await tap(page, kind, '#thank-you');
      await tap(page, kind, '#follow-up-tomorrow');
      await tap(page, kind, '#add-referral');
      await page.locator('#referral-1-name').fill('Bo Lind');
      await page.locator('#referral-1-reach').fill('mornings, by email');
      await tap(page, kind, '#referral-1-introduce');
      await eventually(async () => (await s.draft())?.capture?.referrals?.[0]?.will_introduce === true);
      await shot(page, `${label}-capture-filled`);
      await tap(page, kind, '#save');
      await page.locator('#saved').waitFor();
      assert.match(await page.locator('#saved').innerText(), /Saved: value call with Ana Müller/);
      // The form is blank again and the draft is gone.
      assert.equal(await page.locator('#talked-about').inputValue(), '');
      await eventually(async () => (await s.draft()) === null);
      await shot(page, `${label}-capture-saved`);

      // Today: the thank-you, the intro to chase and the follow-up.
      await go(page, kind, 'today');
      await page.locator('#thank-yous').waitFor();
      assert.match(await page.locator('#thank-yous').innerText(), /Ana Müller/);
      assert.match(await page.locator('#intros').innerText(), /Bo Lind/);
      assert.match(await page.locator('#upcoming').innerText(), /Ana Müller[\s\S]*due tomorrow/);
      await shot(page, `${label}-today`);

      // People: a word from the notes finds her, highlighted, and the diary shows the call.
      await go(page, kind, 'people');
      await page.locator('#search').fill('onboard');
      await eventually(async () => (await page.locator('#people-list mark').allInnerTexts()).some((t) => /onboard/i.test(t)));
      assert.match(await page.locator('#people-list').innerText(), /Ana Müller/);
      await shot(page, `${label}-people-search`);
      await tap(page, kind, page.locator('.person-row', { hasText: 'Ana Müller' }));
      await page.locator('#diary').waitFor();
      assert.match(await page.locator('#diary').innerText(), /pricing for the onboarding workshop/);
      assert.match(await page.locator('#referrals-given').innerText(), /Bo Lind/);
      await shot(page, `${label}-person`);

      // Mark the thank-you sent from Today: it leaves the list.
      await go(page, kind, 'today');
      await tap(page, kind, page.locator('#thank-yous button', { hasText: 'Sent' }));
      await eventually(async () => (await page.locator('#thank-yous').count()) === 0);
      // Advance the intro: suggested → intro asked.
      await tap(page, kind, page.locator('#intros button', { hasText: 'Asked for intro' }));
      await eventually(async () => /intro asked/.test(await page.locator('#intros').innerText()));

      // A casual chat with someone new, saved with Ctrl+Enter.
      await go(page, kind, 'capture');
      await page.locator('#person').waitFor();
      await page.locator('#person').fill('Cy Casual');
      await tap(page, kind, '#kind-casual');
      await page.locator('#talked-about').fill('football and the weather');
      await page.keyboard.press('Control+Enter');
      await eventually(async () => /casual chat with Cy Casual/.test(await page.locator('#saved').innerText()));

      // Review counts the value call and queues the casual-only contact.
      await go(page, kind, 'review');
      await page.locator('#review-stats').waitFor();
      assert.equal(await page.locator('#stat-value .stat-value').innerText(), '1');
      assert.equal(await page.locator('#stat-casual .stat-value').innerText(), '1');
      assert.equal(await page.locator('#stat-thanks .stat-value').innerText(), '0');
      assert.match(await page.locator('#casual-only').innerText(), /Cy Casual/);
      assert.doesNotMatch(await page.locator('#casual-only').innerText(), /Ana Müller/);
      assert.match(await page.locator('#no-business').innerText(), /Cy Casual/);
      await shot(page, `${label}-review`);

      // The remaining screens, for the record.
      await go(page, kind, 'sync');
      await page.locator('#sync-title').waitFor();
      await shot(page, `${label}-sync`);
      await go(page, kind, 'transfer');
      await page.locator('#transfer-title').waitFor();
      await shot(page, `${label}-transfer`);
      if (kind === 'phone') {
        await tap(page, kind, '#nav-more');
        await page.locator('#more-title').waitFor();
        await shot(page, `${label}-more`);
      }
    } finally {
      await s.done();
    }
  });

  test(`${name}: from opening the app to a saved note takes three taps besides typing`, { skip }, async () => {
    const s = await session(kind, { web });
    const { page } = s;
    try {
      await page.keyboard.type('Dee Quick');
      await page.keyboard.press('Enter');
      await eventually(async () => (await page.evaluate(() => document.activeElement?.id)) === 'talked-about');
      await tap(page, kind, '#kind-value'); // tap 1
      await tap(page, kind, '#talked-about'); // tap 2
      await page.keyboard.type('asked about a pilot');
      await tap(page, kind, '#save'); // tap 3
      await page.locator('#saved').waitFor();
      assert.match(await page.locator('#saved').innerText(), /value call with Dee Quick/);
      // The kind is remembered for the next capture.
      assert.equal(await page.locator('#kind-value').getAttribute('aria-checked'), 'true');
    } finally {
      await s.done();
    }
  });

  test(`${name}: a half-typed capture survives closing the app`, { skip }, async () => {
    const s = await session(kind, { web });
    const { page } = s;
    try {
      await page.keyboard.type('Eve Draft');
      await page.locator('#talked-about').fill('half a thought');
      await tap(page, kind, '#kind-other');
      await eventually(async () => (await s.draft())?.capture?.talked_about === 'half a thought' && (await s.draft())?.capture?.kind === 'other');
      await page.reload();
      await page.locator('#person').waitFor();
      assert.equal(await page.locator('#person').inputValue(), 'Eve Draft');
      assert.equal(await page.locator('#talked-about').inputValue(), 'half a thought');
      assert.equal(await page.locator('#kind-other').getAttribute('aria-checked'), 'true');
    } finally {
      await s.done();
    }
  });

  test(`${name}: event mode links everyone met to the event`, { skip }, async () => {
    const s = await session(kind, { web });
    const { page } = s;
    try {
      await go(page, kind, 'event');
      await page.locator('#event-name').fill('Summit Berlin');
      await tap(page, kind, '#event-start');
      await page.locator('#met-name').waitFor();
      for (const [name, line] of [['Fay Event', 'runs a design studio'], ['Gus Event', 'hiring two PMs']]) {
        await page.locator('#met-name').fill(name);
        await page.locator('#met-line').fill(line);
        await tap(page, kind, '#met-save');
        await eventually(async () => (await page.locator('#met-here').innerText().catch(() => '')).includes(name));
        // The quick form is blank again for the next person.
        await eventually(async () => (await page.locator('#met-name').inputValue()) === '');
      }
      await shot(page, `${label}-event`);
      await tap(page, kind, '#event-end');
      await page.locator('#events').waitFor();
      await tap(page, kind, page.locator('#events button', { hasText: 'Summit Berlin' }));
      await page.locator('#event-people').waitFor();
      const met = await page.locator('#event-people').innerText();
      assert.match(met, /Fay Event/);
      assert.match(met, /Gus Event/);
      await shot(page, `${label}-event-page`);
    } finally {
      await s.done();
    }
  });
}

test('desktop: contacts come in from pasted vCard text and every export writes its file', async () => {
  const kind = 'desktop';
  const s = await session(kind);
  const { page } = s;
  try {
    await go(page, kind, 'transfer');
    await page.locator('#import-text').fill('BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ida Import\r\nEMAIL:ida@example.com\r\nEND:VCARD\r\n');
    await tap(page, kind, '#import-paste');
    await page.locator('#import-report').waitFor();
    assert.match(await page.locator('#import-report').innerText(), /1/);
    for (const slug of ['vcard', 'csv', 'json', 'markdown', 'ics']) {
      await tap(page, kind, `#export-${slug}`);
      await eventually(async () => /written to/.test(await page.locator('#notice').innerText().catch(() => '')));
      await page.locator('.notice-close').click();
    }
    const files = readdirSync(join(s.dataDir, 'exports'));
    for (const ext of ['vcf', 'csv', 'json', 'md', 'ics']) {
      assert.ok(files.some((f) => f.endsWith(`.${ext}`)), `no .${ext} export in ${files}`);
    }
    const vcf = readFileSync(join(s.dataDir, 'exports', files.find((f) => f.endsWith('.vcf'))), 'utf8');
    assert.match(vcf, /Ida Import/);
    await shot(page, `${kind}-transfer`);
    await go(page, kind, 'people');
    assert.match(await page.locator('#people-list').innerText(), /Ida Import/);
  } finally {
    await s.done();
  }
});

for (const { name, web } of TARGETS.filter((t) => t.kind === 'phone')) test(`${name}: a picked .vcf file imports with progress, lists what it skipped, and an export downloads`, { skip: web && !webBuilt && 'the phone web app is not built' }, async () => {
  const kind = 'phone';
  const s = await session(kind, { web });
  const { page } = s;
  try {
    await go(page, kind, 'transfer');
    let file = 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:\r\nEND:VCARD\r\n';
    for (let i = 0; i < 1200; i++) {
      file += `BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Picked Person ${i}\r\nTEL:+49 30 ${String(1000000 + i)}\r\nEND:VCARD\r\n`;
    }
    // Watch the progress line appear while the batches are written.
    const seenProgress = page.locator('#import-progress').waitFor({ timeout: 15000 }).then(() => true, () => false);
    await page.locator('#import-pick').setInputFiles({ name: 'contacts.vcf', mimeType: 'text/vcard', buffer: Buffer.from(file) });
    assert.ok(await seenProgress, 'progress was shown while importing');
    await page.locator('#import-report').waitFor();
    const report = await page.locator('#import-report').innerText();
    assert.match(report, /1200 added/);
    assert.match(report, /1 card skipped/);
    assert.match(report, /Line 1: /, 'the skipped card is named by its line');
    await page.locator('#import-progress').waitFor({ state: 'detached' });
    await shot(page, `${web ? 'web' : kind}-transfer-report`);
    await tap(page, kind, '#export-vcard');
    const link = page.locator('#export-download');
    await link.waitFor();
    assert.match(await link.getAttribute('download'), /^aftercall-.*\.vcf$/);
    const [download] = await Promise.all([page.waitForEvent('download'), tap(page, kind, link)]);
    const saved = join(s.dataDir, 'downloaded.vcf');
    await download.saveAs(saved);
    const vcf = readFileSync(saved, 'utf8');
    assert.match(vcf, /Picked Person 1199/);
    assert.equal((vcf.match(/BEGIN:VCARD/g) || []).length, 1200);
  } finally {
    await s.done();
  }
});

test('phone: a long backlog shows 50 thank-yous with the count, and Show more brings the rest', async () => {
  const s = await session('phone');
  const { page } = s;
  try {
    for (let i = 0; i < 53; i++) {
      cli(s.dataDir, 'capture', '--with', `Person ${i}`, '--thank-you');
    }
    await go(page, 'phone', 'today');
    const cards = page.locator('#thank-yous > li');
    await eventually(async () => (await cards.count()) === 50);
    assert.match(await page.locator('h2', { hasText: 'Thank-yous to send' }).innerText(), /53/);
    const more = page.locator('button.more');
    assert.equal((await more.innerText()).trim(), 'Show 3 more of 53');
    await more.scrollIntoViewIfNeeded();
    await shot(page, 'phone-today-show-more');
    await tap(page, 'phone', more);
    await eventually(async () => (await cards.count()) === 53);
    assert.equal(await page.locator('button.more').count(), 0, 'nothing left to show');
  } finally {
    await s.done();
  }
});

test('phone: a meeting that ended is on Today, and one tap opens its capture filled in', async () => {
  const s = await session('phone');
  const { page } = s;
  try {
    const run = (...args) => cli(s.dataDir, ...args);
    // Kim is known by her address; Rosa is not among the people yet.
    const vcf = join(s.dataDir, 'kim.vcf');
    writeFileSync(vcf, 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Kim Park\r\nEMAIL:kim@park.example\r\nEND:VCARD\r\n');
    run('import', vcf);
    const stamp = (t) => t.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const start = new Date(Date.now() - 90 * 60000);
    const end = new Date(start.getTime() + 30 * 60000);
    const ics = join(s.dataDir, 'calendar.ics');
    writeFileSync(ics, [
      'BEGIN:VCALENDAR', 'VERSION:2.0', 'BEGIN:VEVENT', 'UID:intro@example.com',
      `DTSTART:${stamp(start)}`, `DTEND:${stamp(end)}`, 'SUMMARY:Intro call',
      'LOCATION:https://meet.google.com/abc-defg-hij', 'ORGANIZER;CN=Me:mailto:me@example.com',
      'ATTENDEE;CN=Rosa Diaz:mailto:rosa@diaz.example', 'ATTENDEE:mailto:kim@park.example',
      'END:VEVENT', 'END:VCALENDAR', '',
    ].join('\r\n'));
    run('import', ics, '--me', 'me@example.com');

    await go(page, 'phone', 'today');
    const card = page.locator('#meetings > li');
    await eventually(async () => (await card.count()) === 1);
    assert.match(await card.innerText(), /Intro call/);
    assert.match(await card.innerText(), /With Rosa Diaz, Kim Park/);
    await shot(page, 'phone-today-meeting');

    await tap(page, 'phone', card.locator('button', { hasText: 'Capture' }));
    await page.locator('#from-meeting').waitFor();
    assert.match(await page.locator('#from-meeting').innerText(), /From your calendar: Intro call/);
    const chips = await page.locator('#with .chip').allInnerTexts();
    assert.deepEqual(chips.map((c) => c.replace('×', '').trim()), ['Rosa Diaz', 'Kim Park']);
    assert.equal(await page.locator('#channel-video').getAttribute('aria-checked'), 'true');
    await page.locator('#talked-about').fill('Her hiring plans for spring');
    await shot(page, 'phone-capture-meeting');
    await tap(page, 'phone', '#save');
    await page.locator('#saved').waitFor();
    assert.match(await page.locator('#saved').innerText(), /Rosa Diaz/);

    await go(page, 'phone', 'today');
    await eventually(async () => (await page.locator('#meetings').count()) === 0);
    const asked = JSON.parse(run('meetings', '--json'));
    assert.equal(asked.total, 0);
    const rosa = JSON.parse(run('diary', 'Rosa Diaz', '--json'));
    assert.deepEqual(rosa.person.emails, ['rosa@diaz.example']);
    assert.equal(rosa.interactions.length, 1);
    assert.equal(rosa.interactions[0].channel, 'video');
    assert.equal(rosa.interactions[0].talked_about, 'Her hiring plans for spring');
    const kim = JSON.parse(run('diary', 'Kim Park', '--json'));
    assert.equal(kim.interactions.length, 1, 'Kim, found by her address, has the same conversation');
    const people = JSON.parse(run('people', '--json'));
    assert.equal(people.length, 2, 'nobody twice');
  } finally {
    await s.done();
  }
});

test('phone: a weekly goal in Review shows on Today, and one tap schedules a value call with someone only chatted with', async () => {
  const s = await session('phone');
  const { page } = s;
  try {
    const run = (...args) => cli(s.dataDir, ...args);
    run('capture', '--with', 'Ana Lima', '--kind', 'value');
    run('capture', '--with', 'Bo Chen', '--kind', 'casual', '--talked', 'football');
    await go(page, 'phone', 'review');
    await tap(page, 'phone', '#value-goal-3');
    await eventually(async () => /1 of 3 value calls this week: 2 to go\./.test(await page.locator('#goal-progress').innerText().catch(() => '')));
    const bo = page.locator('#casual-only > li', { hasText: 'Bo Chen' });
    await tap(page, 'phone', bo.locator('button', { hasText: 'Schedule a value call' }));
    await page.getByText(/Value call with Bo Chen: a follow-up on /).waitFor();
    await bo.scrollIntoViewIfNeeded();
    await shot(page, 'phone-review-goal');
    await go(page, 'phone', 'today');
    await eventually(async () => /1 of 3 value calls this week/.test(await page.locator('#goal-progress').innerText().catch(() => '')));
    assert.match(await page.locator('#upcoming').innerText(), /Bo Chen/);
    assert.equal(JSON.parse(run('review', '--json')).value_goal, 3);
    await shot(page, 'phone-today-goal');
  } finally {
    await s.done();
  }
});

test('phone: a possible duplicate on a person page merges behind a confirmation', async () => {
  const s = await session('phone');
  const { page } = s;
  try {
    const run = (...args) => cli(s.dataDir, ...args);
    const vcf = join(s.dataDir, 'two.vcf');
    writeFileSync(vcf, 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Robert Stone\r\nEMAIL:bob@stone.example\r\nEND:VCARD\r\n'
      + 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Stone\r\nEMAIL:BOB@stone.example\r\nTEL:+41 79 111 22 33\r\nEND:VCARD\r\n');
    run('import', vcf);
    run('capture', '--with', 'Bob Stone', '--talked', 'the Zürich office');
    await go(page, 'phone', 'people');
    await tap(page, 'phone', page.locator('.person-row', { hasText: 'Robert Stone' }));
    const row = page.locator('.duplicate');
    await row.waitFor();
    assert.match(await row.innerText(), /Possible duplicate: Bob Stone/);
    await tap(page, 'phone', row.locator('button', { hasText: 'Merge' }));
    await eventually(async () => /Merge Bob Stone into Robert Stone\?/.test(await row.innerText()));
    await shot(page, 'phone-person-duplicate');
    await tap(page, 'phone', row.locator('button.primary', { hasText: 'Merge' }));
    await page.getByText('Merged Bob Stone into Robert Stone.').waitFor();
    await eventually(async () => /the Zürich office/.test(await page.locator('#diary').innerText().catch(() => '')));
    const people = JSON.parse(run('people', '--json'));
    assert.deepEqual(people.map((p) => p.name), ['Robert Stone']);
  } finally {
    await s.done();
  }
});

test('phone: a picture attached on a person page and on a conversation in the diary shows its thumbnail and opens at full size', async () => {
  const s = await session('phone');
  const { page } = s;
  try {
    const run = (...args) => cli(s.dataDir, ...args);
    run('capture', '--with', 'Ana Lopez', '--talked', 'the business card');
    // A 640×480 picture, drawn by the browser itself.
    const png = await page.evaluate(() => {
      const canvas = document.createElement('canvas');
      canvas.width = 640; canvas.height = 480;
      const g = canvas.getContext('2d');
      g.fillStyle = '#1e6bd6'; g.fillRect(0, 0, 640, 480);
      g.fillStyle = '#ffcc00'; g.fillRect(80, 80, 300, 200);
      return canvas.toDataURL('image/png').split(',')[1];
    });
    const picture = join(s.dataDir, 'card.png');
    writeFileSync(picture, Buffer.from(png, 'base64'));

    await go(page, 'phone', 'people');
    await tap(page, 'phone', page.locator('.person-row', { hasText: 'Ana Lopez' }));
    const section = page.locator('#person-attachments');
    await section.waitFor();
    const input = page.locator('#person-attach-file');
    assert.match(await input.getAttribute('accept'), /image\/\*/);
    assert.equal(await page.locator('#person-attach-photo').getAttribute('capture'), 'environment');
    await input.setInputFiles(picture);
    await page.getByText('Attached card.png').waitFor();

    const item = section.locator('.attachment', { hasText: 'card.png' });
    const thumb = item.locator('img.thumbnail');
    await thumb.waitFor();
    await eventually(() => thumb.evaluate((img) => img.complete && img.naturalWidth === 640));
    await tap(page, 'phone', item.locator('button', { hasText: 'Open' }));
    const full = item.locator('.attachment-open img.full-size');
    await full.waitFor();
    await eventually(() => full.evaluate((img) => img.complete && img.naturalWidth === 640 && img.naturalHeight === 480));
    const box = await full.boundingBox();
    assert.ok(box.width > 200 && box.width <= 390, `shown as wide as the screen allows: ${box.width}`);
    const thumbBox = await thumb.boundingBox();
    assert.ok(thumbBox.width <= 60, `a thumbnail is small: ${thumbBox.width}`);
    await shot(page, 'phone-attachment-open');

    // On a conversation in the diary too.
    await tap(page, 'phone', '#notice .notice-close');
    const entry = page.locator('#diary .entry').first();
    await entry.evaluate((e) => e.scrollIntoView({ block: 'center' }));
    await tap(page, 'phone', entry.locator('button', { hasText: 'Attach…' }));
    const whiteboard = join(s.dataDir, 'whiteboard.png');
    writeFileSync(whiteboard, Buffer.from(png, 'base64'));
    await entry.locator('input[type=file][id$="-attach-file"]').setInputFiles(whiteboard);
    await page.getByText('Attached whiteboard.png').waitFor();
    const entryThumb = entry.locator('.attachment', { hasText: 'whiteboard.png' }).locator('img.thumbnail');
    await entryThumb.waitFor();
    await eventually(() => entryThumb.evaluate((img) => img.complete && img.naturalWidth === 640));
    await entry.evaluate((e) => e.scrollIntoView({ block: 'center' }));
    await shot(page, 'phone-attachment-diary');

    const list = JSON.parse(run('attachments', 'Ana Lopez', '--json'));
    const size = Buffer.from(png, 'base64').length;
    assert.deepEqual(list.map((a) => [a.name, a.media_type, a.size, a.owner.kind]),
      [['card.png', 'image/png', size, 'person'], ['whiteboard.png', 'image/png', size, 'conversation']]);

    // Removing asks first.
    await tap(page, 'phone', item.locator('button.link', { hasText: 'Remove' }));
    await item.getByText('Remove card.png?').waitFor();
    await tap(page, 'phone', item.locator('button.primary', { hasText: 'Remove' }));
    await page.getByText('Removed card.png.').waitFor();
    assert.deepEqual(JSON.parse(run('attachments', 'Ana Lopez', '--json')).map((a) => a.name), ['whiteboard.png']);
  } finally {
    await s.done();
  }
});

/** Whether the sqlite3 command is here (one test takes content out of a store with it). */
const hasSqlite = (() => {
  try { execFileSync('sqlite3', ['-version']); return true; } catch { return false; }
})();

test('phone: an attachment whose content is not on this device says so, and opening it asks for it', { skip: !hasSqlite && 'needs the sqlite3 command' }, async () => {
  const s = await session('phone');
  const { page } = s;
  try {
    const run = (...args) => cli(s.dataDir, ...args);
    run('capture', '--with', 'Bo Chen', '--talked', 'the whiteboard');
    const picture = join(s.dataDir, 'whiteboard.jpg');
    writeFileSync(picture, Buffer.alloc(3000, 7));
    run('attach', 'Bo Chen', picture);
    // As when the record came by sync before its content: the content is not here.
    const sql = (q) => execFileSync('sqlite3', [join(s.dataDir, 'aftercall.sqlite'), q], { encoding: 'utf8' }).trim();
    sql('DELETE FROM blob_chunks; DELETE FROM blobs;');

    await go(page, 'phone', 'people');
    await tap(page, 'phone', page.locator('.person-row', { hasText: 'Bo Chen' }));
    const item = page.locator('#person-attachments .attachment', { hasText: 'whiteboard.jpg' });
    await item.getByText('Not downloaded yet').waitFor();
    assert.equal(await item.locator('img').count(), 0, 'no thumbnail without content');
    await tap(page, 'phone', item.locator('button', { hasText: 'Open' }));
    await item.getByText('Not downloaded yet: it will be fetched at the next sync.').waitFor();
    assert.equal(await page.locator('.error[role=alert]').count(), 0, 'not an error');
    assert.equal(sql('SELECT COUNT(*) FROM blobs_wanted;'), '1', 'opening it asked the sync for it');
    await shot(page, 'phone-attachment-not-downloaded');
  } finally {
    await s.done();
  }
});
