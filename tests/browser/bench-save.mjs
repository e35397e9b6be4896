// Benchmark: the time from tapping Save to the saved confirmation in browser mode,
// measured in the page (the tap, the trip to the app, the store's durable commit
// and the screen's update), over 50 saves. Prints p50 / p90 / max.
// Usage: node tests/browser/bench-save.mjs (after a build; AFTERCALL_BIN as for the tests).

import { session } from './lib.mjs';

const SAVES = 50;

function percentile(sorted, p) {
  return sorted[Math.round((sorted.length - 1) * p)];
}

const s = await session('desktop');
const times = [];
try {
  for (let i = 0; i < SAVES; i++) {
    const name = `Bench Person ${i}`;
    await s.page.locator('#person').fill(name);
    await s.page.locator('#talked-about').fill(`pricing and the roadmap, round ${i}`);
    // Give the app the typed text before the tap, as a person's pause would.
    await s.page.waitForTimeout(100);
    const ms = await s.page.evaluate((name) => new Promise((resolve) => {
      const done = () => {
        const saved = document.getElementById('saved');
        return saved && saved.innerText.includes(name);
      };
      const start = performance.now();
      const watch = new MutationObserver(() => {
        if (done()) { watch.disconnect(); resolve(performance.now() - start); }
      });
      watch.observe(document.body, { subtree: true, childList: true, characterData: true });
      document.getElementById('save').click();
    }), name);
    times.push(ms);
    await s.page.locator('#person').waitFor();
  }
} finally {
  await s.done();
}
times.sort((a, b) => a - b);
const f = (x) => `${x.toFixed(1)} ms`;
console.log(`Save → saved notice in browser mode, ${SAVES} saves: p50 ${f(percentile(times, 0.5))}, p90 ${f(percentile(times, 0.9))}, max ${f(times[times.length - 1])} (target p50 ≤ 50 ms)`);
