// The voucher QR, drawn on the phone on a <canvas> by the vendored qrcode-generator
// (pwa/vendor/qrcode-generator, MIT): error correction M, as the server's own PNG/SVG codes,
// a quiet zone of 4 modules, whole device pixels per module so the code stays sharp.

import qrcode from "../vendor/qrcode-generator/qrcode.mjs";

const QUIET_ZONE = 4;

/** Draw `text` as a QR code filling a `cssSize`-pixel square canvas; returns the canvas. */
export function drawQr(canvas, text, cssSize) {
  const code = qrcode(0, "M"); // 0: the smallest version that holds the text
  code.addData(text, "Byte");
  code.make();
  const modules = code.getModuleCount() + 2 * QUIET_ZONE;
  const ratio = Math.max(1, Math.floor(globalThis.devicePixelRatio || 1));
  const perModule = Math.max(1, Math.floor((cssSize * ratio) / modules));
  const pixels = perModule * modules;
  canvas.width = pixels;
  canvas.height = pixels;
  canvas.dataset.modules = String(code.getModuleCount());
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, pixels, pixels);
  ctx.fillStyle = "#000000";
  for (let row = 0; row < code.getModuleCount(); row++) {
    for (let col = 0; col < code.getModuleCount(); col++) {
      if (code.isDark(row, col)) {
        ctx.fillRect((col + QUIET_ZONE) * perModule, (row + QUIET_ZONE) * perModule, perModule, perModule);
      }
    }
  }
  return canvas;
}
