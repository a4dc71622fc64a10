// 我的打卡记录 (#/history): the check-ins still waiting on this phone (待上传), then the server's
// record of mine (GET /api/v1/trainees/<my trainee id>/checkins), with a thumbnail through the
// five-minute selfie link.

import * as api from "../api.js";
import { formatDate, h, mount, notice } from "../dom.js";
import * as queue from "../queue.js";

const KINDS = { check_in: "签到", sign_out: "签退" };
const PLACES = { inside: "场地内", outside: "场地外", uncertain: "位置不确定" };
const THUMBNAILS = 20; // the newest only: one link request each

function timeInChina(iso) {
  return new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false,
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}

function statusOf(c) {
  if (c.review === "rejected") return ["核实无效", "state-rejected"];
  if (c.review === "accepted") return ["已打卡（核实无误）", "state-valid"];
  if (c.flags.length) return ["已打卡（待核实）", "state-flagged"];
  return ["已打卡", "state-valid"];
}

function pendingRow(item) {
  return h("li", { class: "card checkin-row pending", dataset: { key: item.key, sessionId: item.sessionId } },
    h("div", { class: "card-head" }, h("strong", {}, "签到"), h("span", { class: "badge state-pending" }, "待上传")),
    h("p", { class: "muted" }, `拍摄于 ${timeInChina(item.fields.captured_at)}，网络恢复后自动上传`));
}

function row({ checkin: c, session: s }) {
  const [label, css] = statusOf(c);
  const thumb = h("img", { class: "thumb", alt: "", width: 56, height: 56, hidden: true });
  const el = h("li", { class: "card checkin-row", dataset: { checkinId: c.id, sessionId: c.session_id } },
    h("div", { class: "card-head" },
      h("div", { class: "row" }, thumb,
        h("div", {}, h("strong", {}, `${formatDate(s.day)} ${String(s.starts).slice(0, 5)} ${KINDS[c.kind] || ""}`),
          h("p", { class: "muted" }, `打卡时间 ${timeInChina(c.counted_at)}`))),
      h("span", { class: `badge ${css}` }, label)),
    h("p", { class: "muted" }, `${PLACES[c.placement] || ""}，距场地 ${Math.round(c.distance_m)} 米，`
      + `精度 ${Math.round(c.accuracy_m)} 米${c.offline ? "，离线补传" : ""}`),
    c.flag_labels.length ? h("p", { class: "muted" }, `疑点：${c.flag_labels.join("、")}`) : null,
    c.review_reason ? h("p", { class: "muted" }, `核实意见：${c.review_reason}`) : null);
  return { el, thumb, checkin: c };
}

export function render(root, { navigate }) {
  const status = h("div", { class: "status", "aria-live": "polite" });
  const list = h("ul", { class: "cards", id: "checkin-history" });
  const screen = h("section", { class: "screen history", dataset: { state: "loading" } },
    h("header", { class: "bar" }, h("h1", {}, "我的打卡记录"),
      h("button", { type: "button", class: "link back", onclick: () => navigate("#/home") }, "返回")),
    status, list);
  mount(root, screen);
  let closed = false;

  async function load() {
    let pending = [];
    try {
      pending = await queue.all();
    } catch {
      pending = [];
    }
    const user = api.user();
    const mine = pending.filter((i) => !user || !i.userId || i.userId === user.id);
    let rows = [];
    try {
      const traineeId = user && user.trainee_id ? user.trainee_id : (await api.me()).user.trainee_id;
      rows = (await api.myCheckins(traineeId)).items.map(row);
      mount(status, null);
    } catch (error) {
      if (error.status === 401) return navigate("#/login");
      mount(status, notice(error.message, "error"));
    }
    if (closed) return;
    const items = [...mine.map(pendingRow), ...rows.map((r) => r.el)];
    mount(list, items.length ? items : [h("li", { class: "empty muted" }, "还没有打卡记录")]);
    screen.dataset.state = "loaded";
    for (const r of rows.filter((x) => x.checkin.has_selfie).slice(0, THUMBNAILS)) {
      api.selfieLink(r.checkin.id).then((link) => {
        r.thumb.src = link.url;
        r.thumb.hidden = false;
      }).catch(() => {});
    }
  }

  const onQueue = () => {
    if (!closed) load();
  };
  window.addEventListener("checkin-queue", onQueue);
  load();
  return () => {
    closed = true;
    window.removeEventListener("checkin-queue", onQueue);
  };
}
