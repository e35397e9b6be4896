// Starts the phone web app: the store's worker, then the screens in this page.
import init, { start_page } from './pkg/aftercall_web.js';

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
await init();
// The screens take over the page's placeholder.
document.getElementById('main').replaceChildren();
start_page(worker);
// Keep what is stored here unless the person clears it themselves.
if (navigator.storage && navigator.storage.persist) {
  navigator.storage.persist().catch(() => {});
}
