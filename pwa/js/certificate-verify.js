// Offline check of a certificate's QR code: `<base>/verify/<number>#<token>`, the token an EdDSA
// JWT (typ "certificate") signed by the bureau's key ring, for a verifier page with no network.
//
// What an offline check proves: the certificate's details below were issued (signed) by the
// bureau with one of the keys in the cached JWKS and have not been altered since; with
// verifyCertificateUrl, also that the number in the link is the certificate's own. Certificates
// do not expire (the token has no "exp"). It does NOT prove the certificate is still in force:
// a revoked certificate's QR keeps verifying offline. Only the online page (<base>/verify/<number>,
// which the same link opens) knows about revocation; say so wherever an offline verdict is shown.
//
// Refusal reasons (TokenError.reason) are the server's (server/adapters/signing.py,
// TokenRejected): malformed, wrong_algorithm, wrong_type, unknown_key, invalid_claims,
// bad_signature; plus number_mismatch from verifyCertificateUrl, and no_keys from loadJwks when
// nothing is cached and the network is unreachable.
// No dependencies: WebCrypto Ed25519 (Chrome 137+, Firefox 129+, Safari 17+), secure context only.

import { TokenError, verifyEdDSAToken } from "./token-verify.js";

export { JWKS_STORAGE_KEY, JWKS_URL, loadJwks, TokenError } from "./token-verify.js";
export const MAX_TOKEN_LENGTH = 2048; // as KeyRing.verify(max_length=2048)
export const CERTIFICATE_KINDS = Object.freeze([
  "skill_level", "vocational_qualification", "special_ability", "special_operation",
  "special_equipment", "training_qualification",
]);
const TOKEN_TYPE = "certificate";
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const VERIFY_URL = /^.*\/verify\/([^/?#]+)(?:\?[^#]*)?#([^#]+)$/;

function isCalendarDate(value) {
  const match = typeof value === "string" ? ISO_DATE.exec(value) : null;
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function certificateFields(claims, kid) {
  const { c, k, h, o, l, i, d, iat } = claims;
  const valid = typeof c === "string" && c.length > 0
    && CERTIFICATE_KINDS.includes(k)
    && [h, o, l, i].every((value) => typeof value === "string")
    && isCalendarDate(d)
    && Number.isSafeInteger(iat) && iat >= 0;
  if (!valid) throw new TokenError("invalid_claims");
  return { number: c, kind: k, holder: h, occupation: o, level: l, issuer: i, issuedOn: d, issuedAt: iat, kid };
}

/**
 * Verify a certificate token against a JWKS (normally the cached one from loadJwks()).
 * Resolves to {number, kind, holder, occupation, level, issuer, issuedOn, issuedAt, kid};
 * rejects with TokenError(reason).
 */
export async function verifyCertificateToken(token, jwks) {
  const { header, claims } = await verifyEdDSAToken(token, jwks,
    { type: TOKEN_TYPE, maxLength: MAX_TOKEN_LENGTH });
  return certificateFields(claims, header.kid);
}

/**
 * {number, token} from a certificate's QR link `<anything>/verify/<number>#<token>` (a string or
 * a URL); the number is URL-decoded. Throws TokenError("malformed") for anything else.
 */
export function tokenFromVerifyUrl(url) {
  const text = url instanceof URL ? url.href : url;
  const match = typeof text === "string" ? VERIFY_URL.exec(text) : null;
  if (!match) throw new TokenError("malformed", "not a certificate verification link");
  let number;
  try {
    number = decodeURIComponent(match[1]);
  } catch {
    throw new TokenError("malformed", "the certificate number in the link is not valid URL encoding");
  }
  return { number, token: match[2] };
}

/**
 * Verify a certificate's QR link: its token as verifyCertificateToken does, and then that the
 * token's number is the one in the link's path (TokenError("number_mismatch") if not).
 */
export async function verifyCertificateUrl(url, jwks) {
  const { number, token } = tokenFromVerifyUrl(url);
  const certificate = await verifyCertificateToken(token, jwks);
  if (certificate.number !== number) {
    throw new TokenError("number_mismatch", "the link's certificate number is not the token's");
  }
  return certificate;
}
