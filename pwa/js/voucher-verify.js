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
// The EdDSA-JWT checks and the JWKS cache are token-verify.js's, shared with certificate-verify.js.
// No dependencies: WebCrypto Ed25519 (Chrome 137+, Firefox 129+, Safari 17+), secure context only.

import { loadJwks as loadSharedJwks, TokenError, verifyEdDSAToken } from "./token-verify.js";

export { JWKS_STORAGE_KEY, JWKS_URL, TokenError } from "./token-verify.js";
export const MAX_TOKEN_LENGTH = 1024; // as KeyRing.verify(max_length=1024)
const TOKEN_TYPE = "voucher";

/** What voucher checks reject with; a TokenError, so either class can be caught. */
export class VoucherTokenError extends TokenError {
  constructor(reason, message) {
    super(reason, message);
    this.name = "VoucherTokenError";
  }
}

async function asVoucherError(promise) {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof TokenError && !(error instanceof VoucherTokenError)) {
      throw new VoucherTokenError(error.reason, error.message);
    }
    throw error;
  }
}

/**
 * Verify a scanned voucher token against a JWKS (normally the cached one from loadJwks()).
 * Resolves to {voucherId, exp, kid}; rejects with VoucherTokenError(reason).
 */
export async function verifyVoucherToken(token, jwks, nowSeconds = Date.now() / 1000) {
  const { header, claims } = await asVoucherError(
    verifyEdDSAToken(token, jwks, { type: TOKEN_TYPE, maxLength: MAX_TOKEN_LENGTH }));
  const { v, exp } = claims;
  if (!Number.isSafeInteger(v) || v <= 0) throw new VoucherTokenError("invalid_claims");
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw new VoucherTokenError("invalid_claims");
  // The server (PyJWT) compares int(exp) with the current time; do the same.
  if (Math.trunc(exp) <= nowSeconds) throw new VoucherTokenError("expired");
  return { voucherId: v, exp, kid: header.kid };
}

/**
 * The server's JWKS: fetched fresh when online (and cached with its fetch time under
 * "skillvoucher.jwks"), the cached copy when the fetch fails; VoucherTokenError("no_keys") if
 * there is neither.
 */
export async function loadJwks(fetchImpl = fetch, storage = localStorage) {
  return asVoucherError(loadSharedJwks(fetchImpl, storage));
}
