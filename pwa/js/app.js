// The trainee app's entry: the hash router (one ES module per screen), the service worker and
// its "new version" prompt, and the check-in queue. Routes: #/login, #/home, #/voucher/<id>,
// #/checkin/<session id>, #/history.

import * as api from "./api.js";
import * as offline from "./offline.js";
import * as queue from "./queue.js";
import * as checkin from "./screens/checkin.js";
import * as history from "./screens/history.js";
import * as home from "./screens/home.js";
import * as login from "./screens/login.js";
import * as voucher from "./screens/voucher.js";

const ROUTES = [
  { name: "login", pattern: /^#\/login$/, screen: login, open: true },
  { name: "home", pattern: /^#\/home$/, screen: home },
  { name: "voucher", pattern: /^#\/voucher\/(\d+)$/, screen: voucher },
  { name: "checkin", pattern: /^#\/checkin\/(\d+)$/, screen: checkin },
  { name: "history", pattern: /^#\/history$/, screen: history },
];

const root = document.getElementById("app");
let cleanup = null;

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function signOut() {
  await api.logout();
  offline.forgetAll();
  queue.forgetResults(); // queued check-ins stay: they are sent when this trainee signs in again
  checkin.forgetConsent();
  navigate("#/login");
}

function route() {
  const hash = location.hash || "#/home";
  const found = ROUTES.find((r) => r.pattern.test(hash));
  if (!found) return navigate("#/home");
  const params = found.pattern.exec(hash).slice(1);
  if (!found.open && !api.hasSession()) return navigate("#/login");
  if (found.open && api.hasSession()) return navigate("#/home");
  if (typeof cleanup === "function") cleanup();
  document.body.dataset.screen = found.name;
  cleanup = found.screen.render(root, { params, navigate, signOut });
  root.focus({ preventScroll: true });
}

// --- the service worker and its update prompt ----------------------------------------------

const banner = document.getElementById("update");

function offerUpdate(worker) {
  banner.hidden = false;
  banner.onclick = () => {
    banner.disabled = true;
    worker.postMessage({ type: "SKIP_WAITING" });
  };
}

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  let reloading = false;
  const hadController = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // The first install takes control silently; a later one is the update the user accepted.
    if (!hadController || reloading) return;
    reloading = true;
    location.reload();
  });
  const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  const watch = (worker) => {
    worker.addEventListener("statechange", () => {
      if (worker.state === "installed" && navigator.serviceWorker.controller) offerUpdate(worker);
    });
  };
  if (registration.waiting && navigator.serviceWorker.controller) offerUpdate(registration.waiting);
  if (registration.installing) watch(registration.installing);
  registration.addEventListener("updatefound", () => watch(registration.installing));
  // Look for a new version when the app comes back to the foreground.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") registration.update().catch(() => {});
  });
}

window.addEventListener("hashchange", route);
route();
queue.start(); // send what an earlier visit left queued; again on `online` and on a timer
registerWorker().catch(() => {
  // no service worker (private mode, old browser): the app still works online
});
