// The trainee app's service worker (served at /sw.js, scope "/").
//
// - install: precache the shell — the explicit, versioned list below — and wait for all of it
//   (cache.addAll is awaited: a missing file fails the install rather than half-caching a version).
// - activate: delete every other version's cache.
// - fetch: the shell's own files from the cache; a navigation to the shell ("/") gets the cached
//   shell, and any other navigation goes to the network with the shell as the offline fallback.
//   /api/ is never touched: what works offline (the trainee's voucher token) is the page's choice.
// - sync ("checkins", Background Sync where the browser has it): asks the open pages to send
//   their check-in queue; the queue itself belongs to the page (pwa/js/queue.js).
// - a new version waits until the page says SKIP_WAITING (the "有新版本，点击更新" prompt).
//
// Change VERSION whenever a file in SHELL changes; a test checks the list against pwa/.

const VERSION = "2026-12-04.2";
const CACHE = `skillvoucher-shell-${VERSION}`;
const SHELL_URL = "/";
const SHELL = [
  SHELL_URL,
  "/pwa/manifest.webmanifest",
  "/pwa/css/app.css",
  "/pwa/icons/icon-192.png",
  "/pwa/icons/icon-512.png",
  "/pwa/js/app.js",
  "/pwa/js/api.js",
  "/pwa/js/messages.zh.js",
  "/pwa/js/dom.js",
  "/pwa/js/offline.js",
  "/pwa/js/queue.js",
  "/pwa/js/qr.js",
  "/pwa/js/token-verify.js",
  "/pwa/js/voucher-verify.js",
  "/pwa/js/screens/login.js",
  "/pwa/js/screens/home.js",
  "/pwa/js/screens/voucher.js",
  "/pwa/js/screens/checkin.js",
  "/pwa/js/screens/history.js",
  "/pwa/vendor/qrcode-generator/qrcode.mjs",
];
const PRECACHED = new Set(SHELL);

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // "reload": past the HTTP cache, so a new version never precaches an old file.
    await cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" })));
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((name) => name.startsWith("skillvoucher-shell-") && name !== CACHE)
      .map((name) => caches.delete(name)));
    // No clients.claim(): a page loaded before the first install stays uncontrolled (it already
    // has its files); the next navigation, online or not, is the worker's. An update's new
    // worker takes over the pages of the old one when it activates.
  })());
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "SKIP_WAITING") self.skipWaiting();
  if (event.data && event.data.type === "VERSION" && event.ports[0]) event.ports[0].postMessage(VERSION);
});

self.addEventListener("sync", (event) => {
  if (event.tag !== "checkins") return;
  event.waitUntil(self.clients.matchAll({ type: "window" }).then((pages) =>
    pages.forEach((page) => page.postMessage({ type: "FLUSH_CHECKINS" }))));
});

async function fromCache(url) {
  const cache = await caches.open(CACHE);
  return cache.match(url);
}

async function shell() {
  return (await fromCache(SHELL_URL)) || fetch(SHELL_URL);
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return; // never cached
  if (request.mode === "navigate") {
    if (url.pathname === SHELL_URL || url.pathname === "/index.html") {
      event.respondWith(shell());
    } else {
      // A server page (e.g. /verify/…): the network's; the shell only when there is none.
      event.respondWith(fetch(request).catch(() => shell()));
    }
    return;
  }
  if (PRECACHED.has(url.pathname)) {
    event.respondWith(fromCache(url.pathname).then((hit) => hit || fetch(request)));
  }
});
