// The offline check shared by the bureau's signed QR tokens (vouchers, certificates): an EdDSA
// JWT, header {alg: "EdDSA", kid, typ}, verified against the bureau's published JWKS
// (/.well-known/jwks.json, cached in localStorage by loadJwks so it works without a network).
//
// verifyEdDSAToken checks the shape, the algorithm, the token type, the key and the signature,
// in that order, and only then parses the claims: it returns them only once they are the
// bureau's word. What the claims must contain is the caller's business (voucher-verify.js,
// certificate-verify.js).
//
// Refusal reasons are the server's (server/adapters/signing.py, TokenRejected): malformed,
// wrong_algorithm, wrong_type, unknown_key, invalid_claims, bad_signature (callers add their own,
// e.g. expired); plus no_keys from loadJwks when nothing is cached and the network is unreachable.
// No dependencies: WebCrypto Ed25519 (Chrome 137+, Firefox 129+, Safari 17+), secure context only.

export const JWKS_URL = "/.well-known/jwks.json";
export const JWKS_STORAGE_KEY = "skillvoucher.jwks";
export const ALGORITHM = "EdDSA";
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export class TokenError extends Error {
  constructor(reason, message) {
    super(message || reason);
    this.name = "TokenError";
    this.reason = reason;
  }
}

function base64urlDecode(part) {
  // Unpadded base64url only; a length of 1 mod 4 can never be valid.
  if (!BASE64URL.test(part) || part.length % 4 === 1) throw new TokenError("malformed");
  const padded = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
  let binary;
  try {
    binary = atob(padded);
  } catch {
    throw new TokenError("malformed");
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
    throw new Error("WebCrypto is unavailable: the page must be served over HTTPS");
  }
  try {
    return await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x },
      { name: "Ed25519" }, false, ["verify"]);
  } catch (error) {
    if (error && error.name === "NotSupportedError") {
      throw new Error("this browser has no WebCrypto Ed25519; update it to verify QR codes offline");
    }
    throw new TokenError("unknown_key", "the published key for this kid is unusable");
  }
}

/**
 * Verify an EdDSA JWT of type `type` (the header's typ) against a JWKS (normally the cached one
 * from loadJwks()). Resolves to {header, claims} once the signature verifies, claims being a JSON
 * object; rejects with TokenError(reason). Tokens longer than `maxLength` are malformed.
 */
export async function verifyEdDSAToken(token, jwks, { type, maxLength }) {
  if (typeof type !== "string" || !Number.isSafeInteger(maxLength)) {
    throw new TypeError("verifyEdDSAToken needs {type, maxLength}");
  }
  if (typeof token !== "string" || token.length === 0 || token.length > maxLength) {
    throw new TokenError("malformed");
  }
  const parts = token.split(".");
  if (parts.length !== 3) throw new TokenError("malformed");
  const [headerPart, payloadPart, signaturePart] = parts;
  const headerBytes = base64urlDecode(headerPart);
  const payloadBytes = base64urlDecode(payloadPart); // decoded, but not trusted until verified
  const signature = base64urlDecode(signaturePart);

  const header = parseJsonObject(headerBytes);
  if (header === null) throw new TokenError("malformed");
  if (header.kid !== undefined && typeof header.kid !== "string") throw new TokenError("malformed");
  if (header.alg !== ALGORITHM) throw new TokenError("wrong_algorithm");
  if (header.typ !== type) throw new TokenError("wrong_type");
  const jwk = findKey(jwks, header.kid);
  if (!jwk) throw new TokenError("unknown_key");

  const key = await importPublicKey(jwk);
  const signingInput = new TextEncoder().encode(`${headerPart}.${payloadPart}`);
  let valid = false;
  try {
    valid = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, signingInput);
  } catch {
    valid = false;
  }
  if (!valid) throw new TokenError("bad_signature");

  // Only now is the payload the bureau's word.
  const claims = parseJsonObject(payloadBytes);
  if (claims === null) throw new TokenError("invalid_claims");
  return { header, claims };
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
 * "skillvoucher.jwks"), the cached copy when the fetch fails; TokenError("no_keys") if there is
 * neither. One key ring signs every token type, so vouchers and certificates share the cache.
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
    throw new TokenError("no_keys", "no verification keys cached: connect once to download them");
  }
  return cached;
}
