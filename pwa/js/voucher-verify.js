// Offline check of a scanned voucher QR token (EdDSA JWT) for the institution's scanner page.
//
// What an offline check proves: the token was issued (signed) by the bureau with one of the keys
// in the cached JWKS, is a voucher token, and has not expired. It does NOT prove the voucher is
// still unrevoked or not already bound to another enrolment: those are confirmed only when the
// scan reaches the server, which re-verifies the token and fails closed. Queue offline scans and
// submit them once online; the server's answer is the decision.
//
// Refusal reasons are the server's (server/adapters/signing.py, TokenRejected): malformed,
// wrong_algorithm, wrong_type, unknown_key, expired, invalid_claims, bad_signature; plus
// no_keys from loadJwks when nothing is cached and the network is unreachable.
// No dependencies: WebCrypto Ed25519 (Chrome 137+, Firefox 129+, Safari 17+), secure context only.

export const JWKS_URL = "/.well-known/jwks.json";
export const JWKS_STORAGE_KEY = "skillvoucher.jwks";
export const MAX_TOKEN_LENGTH = 1024; // as KeyRing.verify(max_length=1024)
const ALGORITHM = "EdDSA";
const TOKEN_TYPE = "voucher";
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export class VoucherTokenError extends Error {
  constructor(reason, message) {
    super(message || reason);
    this.name = "VoucherTokenError";
    this.reason = reason;
  }
}

function base64urlDecode(part) {
  // Unpadded base64url only; a length of 1 mod 4 can never be valid.
  if (!BASE64URL.test(part) || part.length % 4 === 1) throw new VoucherTokenError("malformed");
  const padded = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
  let binary;
  try {
    binary = atob(padded);
  } catch {
    throw new VoucherTokenError("malformed");
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function parseJsonObject(bytes) {
  try {
    const value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

function findKey(jwks, kid) {
  const keys = jwks && Array.isArray(jwks.keys) ? jwks.keys : [];
  return keys.find((k) => k && k.kid === kid && k.kty === "OKP" && k.crv === "Ed25519"
    && typeof k.x === "string" && (k.alg === undefined || k.alg === ALGORITHM)
    && (k.use === undefined || k.use === "sig"));
}

async function importPublicKey(jwk) {
  if (!globalThis.crypto || !globalThis.crypto.subtle) {
    throw new Error("WebCrypto is unavailable: the scanner page must be served over HTTPS");
  }
  try {
    return await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x },
      { name: "Ed25519" }, false, ["verify"]);
  } catch (error) {
    if (error && error.name === "NotSupportedError") {
      throw new Error("this browser has no WebCrypto Ed25519; update it to verify vouchers offline");
    }
    throw new VoucherTokenError("unknown_key", "the published key for this kid is unusable");
  }
}

/**
 * Verify a scanned voucher token against a JWKS (normally the cached one from loadJwks()).
 * Resolves to {voucherId, exp, kid}; rejects with VoucherTokenError(reason).
 */
export async function verifyVoucherToken(token, jwks, nowSeconds = Date.now() / 1000) {
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw new VoucherTokenError("malformed");
  }
  const parts = token.split(".");
  if (parts.length !== 3) throw new VoucherTokenError("malformed");
  const [headerPart, payloadPart, signaturePart] = parts;
  const headerBytes = base64urlDecode(headerPart);
  const payloadBytes = base64urlDecode(payloadPart); // decoded, but not trusted until verified
  const signature = base64urlDecode(signaturePart);

  const header = parseJsonObject(headerBytes);
  if (header === null) throw new VoucherTokenError("malformed");
  if (header.kid !== undefined && typeof header.kid !== "string") {
    throw new VoucherTokenError("malformed");
  }
  if (header.alg !== ALGORITHM) throw new VoucherTokenError("wrong_algorithm");
  if (header.typ !== TOKEN_TYPE) throw new VoucherTokenError("wrong_type");
  const jwk = findKey(jwks, header.kid);
  if (!jwk) throw new VoucherTokenError("unknown_key");

  const key = await importPublicKey(jwk);
  const signingInput = new TextEncoder().encode(`${headerPart}.${payloadPart}`);
  let valid = false;
  try {
    valid = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, signingInput);
  } catch {
    valid = false;
  }
  if (!valid) throw new VoucherTokenError("bad_signature");

  // Only now is the payload the bureau's word.
  const claims = parseJsonObject(payloadBytes);
  if (claims === null) throw new VoucherTokenError("invalid_claims");
  const { v, exp } = claims;
  if (!Number.isSafeInteger(v) || v <= 0) throw new VoucherTokenError("invalid_claims");
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw new VoucherTokenError("invalid_claims");
  // The server (PyJWT) compares int(exp) with the current time; do the same.
  if (Math.trunc(exp) <= nowSeconds) throw new VoucherTokenError("expired");
  return { voucherId: v, exp, kid: header.kid };
}

function readCache(storage) {
  try {
    const cached = JSON.parse(storage.getItem(JWKS_STORAGE_KEY));
    return cached && cached.jwks && Array.isArray(cached.jwks.keys) ? cached.jwks : null;
  } catch {
    return null;
  }
}

/**
 * The server's JWKS: fetched fresh when online (and cached with its fetch time under
 * "skillvoucher.jwks"), the cached copy when the fetch fails; VoucherTokenError("no_keys") if
 * there is neither.
 */
export async function loadJwks(fetchImpl = fetch, storage = localStorage) {
  let jwks = null;
  try {
    // "no-cache": revalidate with the server, so a key rotation is seen as soon as we are online.
    const response = await fetchImpl(JWKS_URL, { cache: "no-cache", credentials: "omit" });
    if (response.ok) {
      const body = await response.json();
      if (body && Array.isArray(body.keys)) jwks = body;
    }
  } catch {
    jwks = null; // offline or unreachable: fall back to the cache
  }
  if (jwks !== null) {
    try {
      storage.setItem(JWKS_STORAGE_KEY, JSON.stringify({ fetchedAt: Date.now(), jwks }));
    } catch {
      // storage full or disabled: the fresh copy is still good for this session
    }
    return jwks;
  }
  const cached = readCache(storage);
  if (cached === null) {
    throw new VoucherTokenError("no_keys", "no verification keys cached: connect once to download them");
  }
  return cached;
}
