// The service worker: keeps this version of the app (its page, scripts, wasm and
// icons) in a cache of its own and serves it with or without a network. A new
// version is fetched in the background and takes over at the next launch; the page
// then says so. The relay's own paths (/sync, /health, /metrics) are never touched.
const VERSION = '__VERSION__';
const FILES = __FILES__;
const CACHE = `aftercall-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('aftercall-') && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const scope = new URL(self.registration.scope);
  const path = url.pathname.slice(scope.pathname.length);
  if (['sync', 'health', 'metrics'].includes(path)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    // Any page of the app is the app's one page.
    const key = request.mode === 'navigate' ? new URL('./', scope).href : request;
    const cached = await cache.match(key, { ignoreSearch: true });
    if (cached) return cached;
    return fetch(request);
  })());
});

// A tap on a notification ("how did it go?") brings the app forward, or opens it.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    if (windows.length > 0) return windows[0].focus();
    return self.clients.openWindow(self.registration.scope);
  })());
});
