// Starts the phone web app: the store's worker, then the screens in this page, and
// the service worker that keeps the app for use with no network.
import init, { start_page, read_qr } from './pkg/aftercall_web.js';
import { scanCode } from './scan.js';

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
await init();
// Sync & devices scans the other device's QR code through this.
window.aftercallScan = (videoId) => scanCode(videoId, read_qr);
// Notifications ("how did it go?" when a meeting ends), once the person allows
// them; shown by the service worker, the one way phones take.
window.aftercallNotifications = () => ('Notification' in window ? Notification.permission : 'unsupported');
window.aftercallAskNotifications = () => Notification.requestPermission();
window.aftercallNotify = (title, body) => {
  if (window.aftercallNotifications() !== 'granted' || !('serviceWorker' in navigator)) return;
  navigator.serviceWorker.ready
    .then((registration) => registration.showNotification(title, { body, tag: title, icon: './icons/icon-192.png' }))
    .catch((e) => console.warn('no notification:', e));
};
// The screens take over the page's placeholder.
document.getElementById('main').replaceChildren();
start_page(worker);
// Back online: sync now rather than at the next retry.
window.addEventListener('online', () => worker.postMessage({ kind: 'online' }));

// Keep what is stored here unless the person clears it themselves.
if (navigator.storage && navigator.storage.persist) {
  navigator.storage.persist().catch(() => {});
}

const update = document.getElementById('update');
update.addEventListener('click', () => { update.hidden = true; });

if ('serviceWorker' in navigator) {
  const hadOne = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.register('./sw.js').then((registration) => {
    // A new version waits for the next launch; say so once it is in.
    const waiting = () => {
      if (hadOne && registration.waiting) update.hidden = false;
    };
    waiting();
    registration.addEventListener('updatefound', () => {
      const next = registration.installing;
      if (next) next.addEventListener('statechange', waiting);
    });
  }).catch((e) => console.warn('no offline copy of the app:', e));
}
