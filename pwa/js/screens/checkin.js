// Check-in at a session (#/checkin/<session id>): separate consent to the selfie first, then the
// position (high accuracy; the distance to the site and whether it looks inside the fence), the
// selfie (front camera, or the phone's camera app as a fallback; shrunk on the phone to 1280 px
// JPEG), and the check-in itself, through the queue (queue.js) so that nothing is lost offline.

import * as api from "../api.js";
import { h, mount, notice, todayInChina } from "../dom.js";
import * as offline from "../offline.js";
import * as queue from "../queue.js";

const DEVICE_KEY = "skillvoucher.device-id";
const MAX_SIDE = 1280; // px, the long side: the server keeps such a JPEG as sent
const JPEG_QUALITY = 0.85;
const GEO_OPTIONS = { enableHighAccuracy: true, timeout: 20_000, maximumAge: 0 };
const PLACEMENTS = { inside: "在培训场地内", outside: "在培训场地外", uncertain: "无法确定是否在场地内" };

const GEO_ERRORS = {
  1: "未允许定位：请在浏览器设置中允许本应用使用位置信息",
  2: "无法获取位置，请到开阔处并打开 GPS 后重试",
  3: "定位超时，请到开阔处后重试",
};

/** Great-circle distance in metres (haversine; within a metre of the geodesic at fence scale). */
export function distanceM(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_008.8 * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** The server's rule (server/domain/geofence.py): inside if d + a ≤ r, outside if d − a > r. */
export function placement(d, accuracy, radius) {
  if (d + accuracy <= radius) return "inside";
  if (d - accuracy > radius) return "outside";
  return "uncertain";
}

/** The phone's time with its UTC offset, e.g. 2026-12-04T11:30:05.120+08:00. */
export function isoWithOffset(date = new Date()) {
  const pad = (n, w = 2) => String(Math.abs(n)).padStart(w, "0");
  const off = -date.getTimezoneOffset();
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:`
    + `${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
    + `${off >= 0 ? "+" : "-"}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
}

export function deviceId() {
  try {
    let id = localStorage.getItem(DEVICE_KEY);
    if (!id) {
      id = queue.randomHex(16);
      localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  } catch {
    return queue.randomHex(16); // storage disabled: a new id for this page
  }
}

// Whose consent this phone has seen (the server keeps the record): the signed-in user's id.
const CONSENT_KEY = "skillvoucher.face-consent";
const keepConsent = () => localStorage.setItem(CONSENT_KEY, String(api.user() ? api.user().id : ""));
export const forgetConsent = () => localStorage.removeItem(CONSENT_KEY);
function hasConsent() {
  const kept = localStorage.getItem(CONSENT_KEY);
  return kept !== null && (!api.user() || kept === String(api.user().id)); // unknown user: offline
}

/** Draw `source` (w × h) shrunk to MAX_SIDE on its long side and encode it as JPEG. */
function compress(source, w, h) {
  const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(w * scale);
  canvas.height = Math.round(h * scale);
  canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("toBlob"))), "image/jpeg", JPEG_QUALITY));
}

async function compressFile(file) {
  if (window.createImageBitmap) {
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    try {
      return await compress(bitmap, bitmap.width, bitmap.height);
    } finally {
      bitmap.close();
    }
  }
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return await compress(img, img.naturalWidth, img.naturalHeight);
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function findSession(id) {
  const kept = offline.list("sessions");
  const hit = kept && kept.items.find((s) => String(s.id) === String(id));
  if (hit) return hit;
  const fresh = (await api.mySessions(todayInChina())).items;
  offline.keepList("sessions", fresh);
  return fresh.find((s) => String(s.id) === String(id)) || null;
}

export function render(root, { params, navigate }) {
  const sessionId = params[0];
  const status = h("div", { id: "checkin-status", class: "status", "aria-live": "polite" });
  const say = (text, kind) => mount(status, text ? notice(text, kind) : null);
  const info = h("div", { class: "card session-info" });
  const body = h("div", { class: "checkin-body" });
  const screen = h("section", { class: "screen checkin", dataset: { sessionId, state: "loading" } },
    h("header", { class: "bar" }, h("h1", {}, "课时打卡"),
      h("button", { type: "button", class: "link back", onclick: () => navigate("#/home") }, "返回")),
    info, status, body);
  mount(root, screen);
  const setState = (state) => {
    screen.dataset.state = state;
  };

  let session = null;
  let fix = null;
  let photo = null;
  let stream = null;
  let previewUrl = null;
  let closed = false;

  function stopCamera() {
    stream?.getTracks().forEach((t) => t.stop());
    stream = null;
  }

  // --- consent ------------------------------------------------------------------------------
  function showConsent() {
    setState("consent");
    say("");
    const agree = h("button", { type: "button", id: "consent-give", class: "primary" }, "同意并继续");
    const refuse = h("button", { type: "button", id: "consent-refuse", class: "secondary wide" }, "不同意");
    agree.addEventListener("click", async () => {
      agree.disabled = true;
      try {
        await api.giveFaceConsent(true);
        keepConsent();
        showSteps();
      } catch (error) {
        agree.disabled = false;
        say(error.message, "error");
      }
    });
    refuse.addEventListener("click", () => {
      setState("declined");
      mount(body, h("div", { class: "card", id: "consent-declined" },
        h("p", {}, "您未同意使用自拍照打卡。"),
        h("p", {}, "请在上课时向培训机构出示电子券，由培训机构扫电子券为您签到。"),
        h("button", { type: "button", class: "secondary wide", onclick: showConsent }, "重新选择")));
    });
    mount(body, h("div", { class: "card consent", id: "consent" },
      h("h2", {}, "使用人脸照片打卡须经您单独同意"),
      h("p", {}, "打卡时需要拍摄一张自拍照，用于核实本人到场参训。"),
      h("p", {}, "保存的内容：去除拍摄信息（含位置等元数据）后的照片、一张缩略图和照片的特征值（用于发现重复或代拍的照片）。"),
      h("p", {}, "保存期限：按当地政策保存，一般为两年，到期删除。仅您本人和本地人社部门工作人员可查看。"),
      h("p", {}, "您也可以不同意：改由培训机构在上课时扫您的电子券签到，不影响参训。"),
      agree, refuse));
  }

  // --- position -----------------------------------------------------------------------------
  const where = h("div", { id: "position", class: "position muted" }, "正在定位…");
  const locate = h("button", { type: "button", id: "locate", class: "secondary wide" }, "重新定位");

  function showFix() {
    if (!fix || !session) return;
    const site = session.site;
    if (!site) {
      mount(where, h("p", {}, `定位精度约 ${Math.round(fix.accuracy)} 米`));
      return updateSend();
    }
    const d = distanceM(fix.latitude, fix.longitude, site.latitude, site.longitude);
    const p = placement(d, fix.accuracy, site.radius_m);
    where.dataset.placement = p;
    mount(where, h("p", {}, `距培训场地约 ${Math.round(d)} 米，定位精度约 ${Math.round(fix.accuracy)} 米`),
      h("p", { class: `badge place-${p}` }, PLACEMENTS[p]),
      fix.accuracy > 100 ? h("p", { class: "muted" }, "定位精度较差，建议到室外或窗边后重新定位") : null);
    updateSend();
  }

  function getPosition() {
    if (!navigator.geolocation) {
      mount(where, notice("本机不支持定位，无法打卡，请联系培训机构", "error"));
      return;
    }
    locate.disabled = true;
    mount(where, h("p", {}, "正在定位…"));
    navigator.geolocation.getCurrentPosition((pos) => {
      locate.disabled = false;
      if (closed) return;
      fix = { latitude: pos.coords.latitude, longitude: pos.coords.longitude,
        accuracy: Math.round(pos.coords.accuracy * 10) / 10 };
      showFix();
    }, (error) => {
      locate.disabled = false;
      if (!closed) mount(where, notice(GEO_ERRORS[error.code] || GEO_ERRORS[2], "error"));
    }, GEO_OPTIONS);
  }
  locate.addEventListener("click", getPosition);

  // --- selfie -------------------------------------------------------------------------------
  const video = h("video", { id: "camera", class: "camera", autoplay: true, muted: true, playsinline: true });
  video.muted = true;
  const preview = h("img", { id: "selfie-preview", class: "camera", alt: "自拍照预览", hidden: true });
  const capture = h("button", { type: "button", id: "capture", class: "secondary wide", disabled: true }, "拍照");
  const retake = h("button", { type: "button", id: "retake", class: "secondary wide", hidden: true }, "重拍");
  const file = h("input", { type: "file", id: "selfie-file", accept: "image/*", capture: "user", class: "file" });
  const fileLabel = h("label", { for: "selfie-file", class: "file-label" }, "无法使用摄像头？用相机拍一张");
  const camStatus = h("div", { class: "status" });

  async function startCamera() {
    if (!navigator.mediaDevices?.getUserMedia) {
      mount(camStatus, notice("无法打开摄像头，请点击下方按钮拍照", "info"));
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: false,
        video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 960 } } });
      if (closed) return stopCamera();
      video.srcObject = stream;
      await video.play().catch(() => {});
      capture.disabled = false;
      mount(camStatus, null);
    } catch {
      mount(camStatus, notice("无法打开摄像头（可能未允许使用），请点击下方按钮拍照", "info"));
    }
  }

  function showPhoto(blob) {
    photo = blob;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(blob);
    preview.src = previewUrl;
    preview.hidden = false;
    video.hidden = true;
    capture.hidden = true;
    retake.hidden = false;
    preview.dataset.bytes = String(blob.size);
    updateSend();
  }

  capture.addEventListener("click", async () => {
    if (!video.videoWidth) return;
    capture.disabled = true;
    try {
      showPhoto(await compress(video, video.videoWidth, video.videoHeight));
      stopCamera();
    } catch {
      mount(camStatus, notice("拍照失败，请重试", "error"));
    } finally {
      capture.disabled = false;
    }
  });
  retake.addEventListener("click", () => {
    photo = null;
    preview.hidden = true;
    video.hidden = false;
    capture.hidden = false;
    retake.hidden = true;
    updateSend();
    startCamera();
  });
  file.addEventListener("change", async () => {
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    try {
      showPhoto(await compressFile(chosen));
      stopCamera();
    } catch {
      mount(camStatus, notice("照片无法识别，请重新拍摄", "error"));
    }
    file.value = "";
  });

  // --- sending ------------------------------------------------------------------------------
  const send = h("button", { type: "button", id: "send-checkin", class: "primary", disabled: true }, "提交打卡");
  function updateSend() {
    send.disabled = !(fix && photo);
  }

  function showOutcome(result) {
    if (result.state === "done") {
      setState("done");
      stopCamera();
      const place = result.placement ? `（${PLACEMENTS[result.placement] || ""}）` : "";
      say(`已打卡${place}`, "ok");
      mount(body, h("button", { type: "button", class: "secondary wide", onclick: () => navigate("#/history") },
        "我的打卡记录"));
    } else if (result.state === "pending") {
      setState("pending");
      stopCamera();
      say("待上传：网络不可用，打卡已保存在本机，网络恢复后自动上传", "info");
      mount(body, h("button", { type: "button", class: "secondary wide", onclick: () => navigate("#/home") },
        "返回首页"));
    } else {
      setState("refused");
      say(result.message || "打卡未成功", "error");
      if (result.code === "FACE_CONSENT_REQUIRED") {
        forgetConsent();
        showConsent();
        say(result.message, "error");
        setState("refused");
      } else {
        send.disabled = false;
        updateSend();
      }
    }
  }

  send.addEventListener("click", async () => {
    if (!fix || !photo) return;
    send.disabled = true;
    say("正在提交…");
    const user = api.user();
    const fields = { kind: "check_in", latitude: String(fix.latitude), longitude: String(fix.longitude),
      accuracy_m: String(fix.accuracy), captured_at: isoWithOffset(new Date()), device_id: deviceId(),
      idempotency_key: queue.randomHex(16), offline: "false" };
    let item;
    try {
      item = await queue.add({ sessionId: String(sessionId), userId: user ? user.id : null, fields, photo });
    } catch {
      say("本机无法保存打卡（存储不可用），请联网后重试", "error");
      send.disabled = false;
      return;
    }
    const result = await queue.sendNow(item.key, String(sessionId));
    if (result.state === "pending") queue.requestSync();
    if (!closed) showOutcome(result);
  });

  function showSteps() {
    setState("ready");
    mount(body,
      h("div", { class: "card step" }, h("h2", {}, "1. 定位"), where, locate),
      h("div", { class: "card step" }, h("h2", {}, "2. 自拍"), h("div", { class: "frame" }, video, preview),
        camStatus, capture, retake, file, fileLabel),
      send);
    getPosition();
    startCamera();
  }

  // --- what to show first -----------------------------------------------------------------------
  const onQueue = (event) => {
    if (String(event.detail.sessionId) !== String(sessionId) || closed) return;
    if (screen.dataset.state === "pending" && event.detail.state !== "pending") showOutcome(event.detail);
  };
  window.addEventListener("checkin-queue", onQueue);

  (async () => {
    try {
      session = await findSession(sessionId);
    } catch (error) {
      if (error.status === 401) return navigate("#/login");
      setState("error");
      return say(error.message, "error");
    }
    if (!session) {
      setState("error");
      return say("今天没有这个课时", "error");
    }
    mount(info, h("strong", {}, session.class_name),
      h("p", {}, `${String(session.starts).slice(0, 5)}–${String(session.ends).slice(0, 5)}`),
      session.site ? h("p", { class: "muted" }, session.site.address) : null);
    let pending = [];
    try {
      pending = (await queue.all()).filter((i) => String(i.sessionId) === String(sessionId));
    } catch {
      pending = [];
    }
    const last = queue.results()[sessionId];
    if (pending.length) return showOutcome({ state: "pending" });
    if (last && last.state === "done") return showOutcome(last);
    if (!api.user()) await api.me().catch(() => null); // after a reload: who is signed in
    if (!hasConsent()) return showConsent();
    showSteps();
  })();

  return () => {
    closed = true;
    stopCamera();
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    window.removeEventListener("checkin-queue", onQueue);
  };
}
