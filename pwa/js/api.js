// The trainee app's one door to the API: fetch, the tokens, and refusals as Chinese messages.
//
// Tokens: the access token lives only in this module's variables (gone when the page closes;
// another script on the page cannot find it in storage). The API returns the refresh token in
// the response body (there is no cookie option), so it is kept in localStorage to survive a
// reload; it rotates on every refresh and is revoked on logout. README, "The trainee app (PWA)",
// explains the trade-off.

import { messageFor, windowMessage } from "./messages.zh.js";

export const REFRESH_KEY = "skillvoucher.refresh";
const API = "/api/v1";
const EARLY_REFRESH_MS = 30_000; // refresh a little before the access token runs out

let accessToken = null;
let accessExpiresAt = 0;
let currentUser = null;
let refreshing = null; // one refresh at a time: the refresh token is single-use

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }

  get offline() {
    return this.code === "OFFLINE";
  }
}

function offlineError() {
  return new ApiError(0, "OFFLINE", messageFor("OFFLINE"));
}

function storedRefresh() {
  try {
    return localStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

function keepTokens(pair) {
  accessToken = pair.access_token;
  accessExpiresAt = Date.now() + pair.expires_in * 1000;
  currentUser = pair.user;
  try {
    localStorage.setItem(REFRESH_KEY, pair.refresh_token);
  } catch {
    // storage disabled: signed in for this page only
  }
  return pair.user;
}

function forgetTokens() {
  accessToken = null;
  accessExpiresAt = 0;
  currentUser = null;
  try {
    localStorage.removeItem(REFRESH_KEY);
  } catch {
    // nothing stored
  }
}

async function parseError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error ? body.error : {};
  const code = error.code || (response.status >= 500 ? "SERVER_ERROR" : `HTTP_${response.status}`);
  const details = error.details || {};
  const message = (code === "CHECKIN_OUTSIDE_WINDOW" && windowMessage(details)) || messageFor(code, error.message);
  return new ApiError(response.status, code, message, details);
}

async function rawFetch(path, { method = "GET", body, form, token, timeoutMs, withHeaders } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (form) {
    payload = form; // multipart: the browser sets the boundary
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  // A slow network counts as none: the caller (the check-in queue) keeps the request for later.
  const abort = timeoutMs ? new AbortController() : null;
  const timer = abort ? setTimeout(() => abort.abort(), timeoutMs) : null;
  try {
    response = await fetch(API + path, { method, headers, body: payload, credentials: "omit",
      cache: "no-store", signal: abort ? abort.signal : undefined });
    if (!response.ok) throw await parseError(response);
    if (response.status === 204) return null;
    const data = await response.json();
    return withHeaders ? { data, status: response.status, headers: response.headers } : data;
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw offlineError(); // no network, a timeout, or the answer cut off
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a sign-in is remembered on this phone (it may still turn out to be expired). */
export function hasSession() {
  return accessToken !== null || storedRefresh() !== null;
}

export function user() {
  return currentUser;
}

/** Swap the stored refresh token for a new pair. Rejects with ApiError (OFFLINE keeps it). */
export function refresh() {
  if (refreshing) return refreshing;
  const token = storedRefresh();
  if (!token) return Promise.reject(new ApiError(401, "NOT_AUTHENTICATED", messageFor("NOT_AUTHENTICATED")));
  refreshing = rawFetch("/auth/refresh", { method: "POST", body: { refresh_token: token } })
    .then(keepTokens, (error) => {
      if (!error.offline && error.status !== 429 && error.status < 500) forgetTokens();
      throw error;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

async function validAccess() {
  if (accessToken && Date.now() < accessExpiresAt - EARLY_REFRESH_MS) return accessToken;
  await refresh();
  return accessToken;
}

/** A signed-in request; one refresh and retry if the access token was refused. */
export async function request(path, options = {}) {
  const token = await validAccess();
  try {
    return await rawFetch(path, { ...options, token });
  } catch (error) {
    if (error.status !== 401) throw error;
    await refresh();
    return rawFetch(path, { ...options, token: accessToken });
  }
}

export async function loginWithPassword(mobile, password) {
  return keepTokens(await rawFetch("/auth/login", { method: "POST", body: { mobile, password } }));
}

export async function loginWithSmsCode(mobile, smsCode) {
  return keepTokens(await rawFetch("/auth/login", { method: "POST", body: { mobile, sms_code: smsCode } }));
}

export function sendSmsCode(mobile) {
  return rawFetch("/auth/sms-code", { method: "POST", body: { mobile } });
}

/** Revoke this sign-in on the server (best effort) and forget it here. */
export async function logout() {
  const token = storedRefresh();
  try {
    if (token && accessToken) {
      await rawFetch("/auth/logout", { method: "POST", body: { refresh_token: token }, token: accessToken });
    }
  } catch {
    // offline or already invalid: forgetting it locally is what matters
  } finally {
    forgetTokens();
  }
}

export const vouchers = () => request("/vouchers");
export const voucherToken = (id) => request(`/vouchers/${encodeURIComponent(id)}/token`);
export const mySessions = (day) => request(`/me/sessions${day ? `?day=${encodeURIComponent(day)}` : ""}`);
export const certificates = () => request("/certificates");

export const me = () => request("/me");
export const giveFaceConsent = (give) => request("/me/face-consent", { method: "PUT", body: { give } });
export const myCheckins = (traineeId) => request(`/trainees/${encodeURIComponent(traineeId)}/checkins`);
export const selfieLink = (id) => request(`/checkins/${encodeURIComponent(id)}/selfie?size=thumbnail`);

const CHECKIN_TIMEOUT_MS = 45_000; // a 200 KB photo on a slow 3G line, with room to spare

/** Send a check-in (multipart); resolves {data, status, headers}. Rejects with ApiError. */
export const sendCheckin = (sessionId, form) => request(`/sessions/${encodeURIComponent(sessionId)}/checkins`,
  { method: "POST", form, timeoutMs: CHECKIN_TIMEOUT_MS, withHeaders: true });
