// What the page keeps for use without a network (the service worker never caches /api/):
// the trainee's voucher tokens (each with its expiry) and the last lists seen on the home screen.
// All of it is this trainee's own and is wiped on sign-out.

const PREFIX = "skillvoucher.";
const TOKEN_PREFIX = `${PREFIX}voucher-token.`;
const LIST_PREFIX = `${PREFIX}list.`;

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key));
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false; // storage full or disabled: works online only
  }
}

/** Keep a voucher's signed token ({token, kid, expires_at}) and what the screen shows with it. */
export function keepVoucherToken(voucherId, token, voucher) {
  return write(TOKEN_PREFIX + voucherId, {
    token: token.token, kid: token.kid, expiresAt: token.expires_at, savedAt: new Date().toISOString(),
    voucher: voucher ? pickVoucher(voucher) : null,
  });
}

/** The kept token of a voucher, or null if none or expired (`now` in ms). */
export function voucherToken(voucherId, now = Date.now()) {
  const kept = read(TOKEN_PREFIX + voucherId);
  if (!kept || typeof kept.token !== "string") return null;
  if (Date.parse(kept.expiresAt) <= now) {
    localStorage.removeItem(TOKEN_PREFIX + voucherId);
    return null;
  }
  return kept;
}

/** Only what the home screen shows of a voucher: no name or ID number. */
export function pickVoucher(v) {
  return { id: v.id, serial: v.serial, state: v.state, state_label: v.state_label,
    occupation_name: v.occupation_name, level: v.level, programme_label: v.programme_label,
    expires_on: v.expires_on };
}

export function keepList(name, items) {
  return write(LIST_PREFIX + name, { savedAt: new Date().toISOString(), items });
}

/** {savedAt, items} as last kept, or null. */
export function list(name) {
  const kept = read(LIST_PREFIX + name);
  return kept && Array.isArray(kept.items) ? kept : null;
}

/** Sign-out: forget everything this trainee left on the phone (the JWKS cache stays: it is public). */
export function forgetAll() {
  const keys = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (key && (key.startsWith(TOKEN_PREFIX) || key.startsWith(LIST_PREFIX))) keys.push(key);
  }
  keys.forEach((key) => localStorage.removeItem(key));
}
