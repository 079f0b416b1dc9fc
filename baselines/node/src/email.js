// Email validation, exactly as docs/contract.md ("Decisions ... Users") states it:
// trim white space, then 1-254 ASCII chars `local@domain`; local is a dot-atom of 1-64
// chars; domain is two or more dot-separated labels of 1-63 letters, digits and `-`,
// not starting or ending with `-`. No quoted local parts, no address literals.

// "White space" is Unicode White_Space, the set Rust's str::trim() removes (it differs
// from String.prototype.trim(), which also strips U+FEFF and keeps U+0085).
const WS = '\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';
const TRIM = new RegExp(`^[${WS}]+|[${WS}]+$`, 'g');

const ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-";
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const EMAIL = new RegExp(`^([${ATEXT}]+(?:\\.[${ATEXT}]+)*)@${LABEL}(?:\\.${LABEL})+$`);

function isPlain(code) {
  return code > 0x20 && code < 0x7f;
}

/** Rust-compatible trim (Unicode White_Space). */
export function trimWhiteSpace(s) {
  if (s.length === 0 || (isPlain(s.charCodeAt(0)) && isPlain(s.charCodeAt(s.length - 1)))) return s;
  return s.replace(TRIM, '');
}

/**
 * @param {unknown} value the JSON value of the `email` member
 * @returns {string | null} the trimmed email to store, or null when invalid
 */
export function normalizeEmail(value) {
  if (typeof value !== 'string') return null;
  const email = trimWhiteSpace(value);
  if (email.length < 1 || email.length > 254) return null;
  const m = EMAIL.exec(email);
  if (m === null || m[1].length > 64) return null;
  return email;
}
