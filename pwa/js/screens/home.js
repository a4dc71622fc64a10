// Home: my vouchers and their states, today's sessions, my certificates. Shown from the last
// copy kept on the phone when the network is down (the page, not the service worker, keeps it).

import * as api from "../api.js";
import { formatDate, h, mount, notice, todayInChina } from "../dom.js";
import * as offline from "../offline.js";
import * as queue from "../queue.js";

const QR_STATES = new Set(["issued", "bound", "trained"]); // as the server's QR_STATES
const KIND_LABELS = { theory: "理论课", practice: "实操课" };

function voucherCard(v, navigate) {
  const canShow = QR_STATES.has(v.state);
  return h("li", { class: "card voucher", dataset: { voucherId: v.id, state: v.state } },
    h("div", { class: "card-head" },
      h("strong", {}, `${v.occupation_name} · ${v.level}`),
      h("span", { class: `badge state-${v.state}` }, v.state_label)),
    h("p", { class: "muted" }, `券号 ${v.serial}`),
    v.programme_label ? h("p", { class: "muted" }, v.programme_label) : null,
    v.expires_on ? h("p", { class: "muted" }, `有效期至 ${formatDate(v.expires_on)}`) : null,
    canShow ? h("button", { type: "button", class: "primary show-voucher",
      onclick: () => {
        // Full screen for the scanner (needs this tap; refused on some phones, which is fine).
        document.documentElement.requestFullscreen?.({ navigationUI: "hide" }).catch(() => {});
        navigate(`#/voucher/${v.id}`);
      } }, "出示电子券") : null);
}

// A session's check-in on this phone: queued (待上传), sent (已打卡), or refused.
function checkinBadge(sessionId, pending) {
  const last = queue.results()[sessionId];
  if (pending.has(String(sessionId))) return h("span", { class: "badge state-pending checkin-state" }, "待上传");
  if (last && last.state === "done") return h("span", { class: "badge state-valid checkin-state" }, "已打卡");
  if (last && last.state === "refused") return h("span", { class: "badge state-rejected checkin-state" }, "打卡未成功");
  return null;
}

function sessionRow(s, navigate, pending) {
  return h("li", { class: "card session", dataset: { sessionId: s.id } },
    h("div", { class: "card-head" }, h("strong", {}, s.class_name), checkinBadge(s.id, pending)),
    h("p", {}, `${String(s.starts).slice(0, 5)}–${String(s.ends).slice(0, 5)} ${KIND_LABELS[s.kind] || ""}`),
    s.site ? h("p", { class: "muted" }, s.site.address) : null,
    h("button", { type: "button", class: "primary open-checkin", onclick: () => navigate(`#/checkin/${s.id}`) },
      "打卡"));
}

async function pendingSessions() {
  try {
    return new Set((await queue.all()).map((i) => String(i.sessionId)));
  } catch {
    return new Set();
  }
}

function certificateRow(c) {
  return h("li", { class: "card certificate", dataset: { certificateId: c.id } },
    h("div", { class: "card-head" }, h("strong", {}, `${c.occupation_name} · ${c.level}`),
      h("span", { class: `badge state-${c.state}` }, c.state_label)),
    h("p", { class: "muted" }, `${c.kind_label} ${c.number}`),
    h("p", { class: "muted" }, `${c.issuer && c.issuer.name ? c.issuer.name : ""} ${formatDate(c.issued_on)}`));
}

function section(id, title, empty) {
  const body = h("ul", { class: "cards", id: `${id}-list` });
  const status = h("div", { class: "status" });
  const el = h("section", { id, class: "block" }, h("h2", {}, title), status, body);
  return {
    el,
    show(items, row, savedAt) {
      mount(body, items.length ? items.map(row) : [h("li", { class: "empty muted" }, empty)]);
      mount(status, savedAt ? notice(`网络不可用，显示的是 ${new Date(savedAt).toLocaleString("zh-CN")} 的记录`) : null);
    },
    fail(message) {
      mount(status, notice(message, "error"));
    },
  };
}

async function fill(part, name, load, row, keep) {
  try {
    const items = await load();
    part.show(items, row, null);
    offline.keepList(name, keep ? items.map(keep) : items);
  } catch (error) {
    if (error.status === 401) throw error;
    const kept = offline.list(name);
    if (error.offline && kept) part.show(kept.items, row, kept.savedAt);
    else part.fail(error.message);
  }
}

export function render(root, { navigate, signOut }) {
  const vouchers = section("vouchers", "我的电子券", "还没有电子券");
  const sessions = section("sessions", "今日课时", "今天没有课");
  const certificates = section("certificates", "我的证书", "还没有证书");
  const who = api.user();
  mount(root, h("section", { class: "screen home" },
    h("header", { class: "bar" }, h("h1", {}, "技能培训电子券"),
      h("button", { type: "button", id: "logout", class: "link", onclick: signOut }, "退出登录")),
    who ? h("p", { class: "muted hello" }, `${who.display_name || ""}，您好`) : null,
    vouchers.el, sessions.el,
    h("button", { type: "button", id: "open-history", class: "secondary wide", onclick: () => navigate("#/history") },
      "我的打卡记录"),
    certificates.el));

  const navigateTo = (v) => voucherCard(v, navigate);
  let pending = new Set();
  let shown = null; // the sessions on screen, redrawn when the queue changes
  const drawSession = (s) => sessionRow(s, navigate, pending);
  const onQueue = async () => {
    pending = await pendingSessions();
    const current = shown || offline.list("sessions");
    if (current) sessions.show(current.items, drawSession, current.savedAt);
  };
  window.addEventListener("checkin-queue", onQueue);
  const loadSessions = async () => {
    pending = await pendingSessions();
    const items = (await api.mySessions(todayInChina())).items;
    shown = { items, savedAt: null };
    return items;
  };
  Promise.all([
    fill(vouchers, "vouchers", async () => (await api.vouchers()).items, navigateTo, offline.pickVoucher),
    fill(sessions, "sessions", loadSessions, drawSession),
    fill(certificates, "certificates", async () => (await api.certificates()).items, certificateRow,
      (c) => ({ id: c.id, number: c.number, kind_label: c.kind_label, state: c.state,
        state_label: c.state_label, occupation_name: c.occupation_name, level: c.level,
        issuer: { name: c.issuer && c.issuer.name }, issued_on: c.issued_on })),
  ]).catch((error) => {
    if (error.status === 401) signOut({ expired: true });
  }).finally(() => root.querySelector(".home")?.setAttribute("data-loaded", "true"));
  return () => window.removeEventListener("checkin-queue", onQueue);
}
