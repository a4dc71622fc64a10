// The voucher, full screen: the QR of its signed token (GET /api/v1/vouchers/<id>/token), drawn
// on the phone. The token is kept on the phone with its expiry once seen, so the code still shows
// offline; it is checked against the bureau's cached keys (voucher-verify.js) before it is shown.

import * as api from "../api.js";
import { formatDate, h, mount, notice } from "../dom.js";
import * as offline from "../offline.js";
import { drawQr } from "../qr.js";
import { loadJwks, verifyVoucherToken } from "../voucher-verify.js";

const REASONS = {
  expired: "电子券二维码已过期，请联网后重新打开",
  no_keys: null, // no keys cached yet: the scanner checks the signature anyway
};

function qrSize() {
  return Math.min(window.innerWidth, window.innerHeight) - 48;
}

async function freshToken(id) {
  try {
    const [token, list] = await Promise.all([api.voucherToken(id), api.vouchers().catch(() => null)]);
    const voucher = list ? list.items.find((v) => String(v.id) === String(id)) : null;
    offline.keepVoucherToken(id, token, voucher);
    return { ...offline.voucherToken(id), fromPhone: false };
  } catch (error) {
    const kept = offline.voucherToken(id);
    if (error.offline && kept) return { ...kept, fromPhone: true };
    throw error;
  }
}

/** Whether the token is the bureau's, per the cached keys: null when it is, else a message. */
async function checkToken(token) {
  try {
    await verifyVoucherToken(token, await loadJwks());
    return null;
  } catch (error) {
    if (error && error.reason in REASONS) return REASONS[error.reason];
    return "二维码校验未通过，请联网后重新打开";
  }
}

export function render(root, { params, navigate }) {
  const id = params[0];
  const canvas = h("canvas", { id: "voucher-qr", role: "img", "aria-label": "电子券二维码" });
  const info = h("div", { class: "voucher-info" });
  const status = h("div", { class: "status", "aria-live": "polite" });
  const back = h("button", { type: "button", class: "secondary back", onclick: () => navigate("#/home") }, "返回");
  const screen = h("section", { class: "screen voucher-full", dataset: { voucherId: id } },
    h("div", { class: "qr" }, canvas), info, status, back);
  mount(root, screen);
  let wakeLock = null;
  let token = null;

  function draw() {
    if (token) drawQr(canvas, token, qrSize());
  }
  window.addEventListener("resize", draw);

  (async () => {
    mount(status, notice("正在加载…"));
    let kept;
    try {
      kept = await freshToken(id);
    } catch (error) {
      if (error.status === 401) return navigate("#/login");
      mount(status, notice(error.message, "error"));
      screen.dataset.state = "error";
      return;
    }
    token = kept.token;
    const problem = await checkToken(token);
    if (problem && kept.fromPhone) {
      mount(status, notice(problem, "error"));
      screen.dataset.state = "invalid";
      return;
    }
    draw();
    const v = kept.voucher;
    mount(info, v ? h("p", { class: "title" }, `${v.occupation_name} · ${v.level}`) : null,
      v ? h("p", {}, `券号 ${v.serial}`) : null,
      h("p", { class: "muted" }, `二维码有效期至 ${formatDate(kept.expiresAt)}`));
    mount(status, kept.fromPhone ? notice("网络不可用，显示的是保存在本机的电子券", "info")
      : notice("请向培训机构出示此二维码", "ok"));
    screen.dataset.state = "shown";
    try {
      wakeLock = await navigator.wakeLock?.request("screen"); // keep the screen on while scanned
    } catch {
      wakeLock = null;
    }
  })();

  return () => {
    window.removeEventListener("resize", draw);
    wakeLock?.release().catch(() => {});
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  };
}
