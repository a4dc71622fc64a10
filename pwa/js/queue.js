// The check-in queue: every check-in is written to IndexedDB (with its photo, its idempotency key
// and the phone's capture time) before it is sent, and leaves only on a 2xx answer or a
// definitive refusal (a 4xx other than 401, 408 and 429). No network, a timeout or a 5xx keep it:
// it is sent again on app start, on the `online` event and on a timer with capped exponential
// back-off (navigator.onLine is never trusted alone). The server answers a replay of the same key
// and body with the first answer, so a retry never makes a second record.
//
// After a failed first attempt the item is marked offline=true (counted at its capture time if
// that was inside the window); its body changes only that once. If the first attempt had reached
// the server after all, the changed body meets IDEMPOTENCY_KEY_REUSED: the check-in is recorded.

import * as api from "./api.js";

const DB_NAME = "skillvoucher";
const STORE = "checkins";
const BASE_DELAY_MS = 5_000;
const MAX_DELAY_MS = 5 * 60_000;
const RESULTS_KEY = "skillvoucher.checkin-results";
const DEFINITIVE = (status) => status >= 400 && status < 500 && ![401, 408, 429].includes(status);

let dbPromise = null;
let flushing = null;
let timer = null;
let started = false;

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "key" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    dbPromise.catch(() => {
      dbPromise = null;
    });
  }
  return dbPromise;
}

async function tx(mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const result = work(t.objectStore(STORE));
    t.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

/** Every queued check-in, oldest first. */
export async function all() {
  const items = await tx("readonly", (s) => s.getAll());
  return (items || []).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export const put = (item) => tx("readwrite", (s) => s.put(item));
const remove = (key) => tx("readwrite", (s) => s.delete(key));

/** A random lowercase hex string of `bytes` bytes (32 hex characters by default). */
export function randomHex(bytes = 16) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The last outcome per session on this phone: {sessionId: {state: "done"|"refused", …}}. */
export function results() {
  try {
    return JSON.parse(localStorage.getItem(RESULTS_KEY)) || {};
  } catch {
    return {};
  }
}

function keepResult(sessionId, result) {
  const kept = results();
  kept[sessionId] = { ...result, at: new Date().toISOString() };
  try {
    localStorage.setItem(RESULTS_KEY, JSON.stringify(kept));
  } catch {
    // storage full: the history screen still shows the server's record
  }
}

export function forgetResults() {
  try {
    localStorage.removeItem(RESULTS_KEY);
  } catch {
    // nothing kept
  }
}

function changed(detail) {
  window.dispatchEvent(new CustomEvent("checkin-queue", { detail }));
}

/** Queue a check-in: {sessionId, userId, fields: {…form fields but the photo}, photo: Blob}. */
export async function add(entry) {
  const item = { ...entry, key: entry.fields.idempotency_key, createdAt: new Date().toISOString(),
    attempts: 0, nextAt: 0, lastError: null };
  await put(item);
  changed({ key: item.key, sessionId: item.sessionId, state: "pending" });
  return item;
}

function formOf(item) {
  const form = new FormData();
  for (const [name, value] of Object.entries(item.fields)) form.append(name, String(value));
  form.append("selfie", item.photo, "selfie.jpg");
  return form;
}

/** Try one item now: "done", "refused" (it left the queue) or "pending" (kept for later). */
async function send(item) {
  try {
    const answer = await api.sendCheckin(item.sessionId, formOf(item));
    await remove(item.key);
    const result = { state: "done", checkinId: answer.data.id, placement: answer.data.placement,
      replayed: answer.headers.get("Idempotent-Replayed") === "true" };
    keepResult(item.sessionId, result);
    changed({ key: item.key, sessionId: item.sessionId, ...result });
    return result;
  } catch (error) {
    if (error.code === "IDEMPOTENCY_KEY_REUSED" && item.attempts > 0) {
      // Our own earlier attempt got through before its answer was lost: it is recorded.
      await remove(item.key);
      const result = { state: "done", checkinId: null, placement: null, replayed: true };
      keepResult(item.sessionId, result);
      changed({ key: item.key, sessionId: item.sessionId, ...result });
      return result;
    }
    if (error.status && DEFINITIVE(error.status)) {
      await remove(item.key);
      const result = { state: "refused", code: error.code, message: error.message };
      keepResult(item.sessionId, result);
      changed({ key: item.key, sessionId: item.sessionId, ...result });
      return result;
    }
    item.attempts += 1;
    item.fields.offline = "true"; // from now on it is an offline check-in (see the top)
    item.nextAt = Date.now() + Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (item.attempts - 1));
    item.lastError = error.code || "OFFLINE";
    await put(item);
    const result = { state: "pending", code: item.lastError, message: error.message };
    changed({ key: item.key, sessionId: item.sessionId, ...result });
    return result;
  }
}

/** Send the queued items of the signed-in trainee (all of them when `force`, else those due).
 * One flush at a time; resolves {key: result}. */
export function flush({ force = false } = {}) {
  if (flushing) return flushing;
  flushing = (async () => {
    const outcomes = {};
    if (!api.hasSession()) return outcomes;
    let items;
    try {
      items = await all();
    } catch {
      return outcomes; // no IndexedDB: nothing was queued
    }
    if (items.length && !api.user()) {
      try {
        await api.me(); // who is signed in (the reload's refresh), before sending anything
      } catch {
        return outcomes; // offline or signed out: the timer tries again
      }
    }
    const user = api.user();
    for (const item of items) {
      if (user && item.userId && item.userId !== user.id) continue; // another trainee's, on a shared phone
      if (!force && item.nextAt > Date.now()) continue;
      outcomes[item.key] = await send(item);
      if (outcomes[item.key].state === "pending" && outcomes[item.key].code === "OFFLINE") break;
    }
    return outcomes;
  })().finally(() => {
    flushing = null;
    schedule();
  });
  return flushing;
}

/** Send one item now (the check-in screen's own attempt). */
export async function sendNow(key, sessionId) {
  if (flushing) await flushing.catch(() => {});
  const item = (await all()).find((i) => i.key === key);
  if (!item) return results()[sessionId] || { state: "done" }; // a flush sent it meanwhile
  return send(item);
}

async function schedule() {
  clearTimeout(timer);
  let items = [];
  try {
    items = await all();
  } catch {
    return;
  }
  if (!items.length) return;
  const due = Math.min(...items.map((i) => i.nextAt || 0));
  timer = setTimeout(() => flush(), Math.max(1_000, due - Date.now()));
}

/** On app start: flush now, on `online` (forced: the network is back), on a timer, and through
 * Background Sync when the browser has it (an extra: the page does the sending). */
export function start() {
  if (started || !("indexedDB" in window)) return;
  started = true;
  window.addEventListener("online", () => flush({ force: true }));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") flush();
  });
  navigator.serviceWorker?.addEventListener?.("message", (event) => {
    if (event.data && event.data.type === "FLUSH_CHECKINS") flush({ force: true });
  });
  navigator.serviceWorker?.startMessages?.();
  flush({ force: true });
}

/** Ask for a Background Sync wake-up (Chromium); harmless where there is none. */
export async function requestSync() {
  try {
    const registration = await navigator.serviceWorker?.ready;
    await registration?.sync?.register("checkins");
  } catch {
    // no Background Sync: the online event and the timer do it
  }
}
