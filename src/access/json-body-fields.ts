/**
 * Reads string fields of a JSON object body the way Go's encoding/json fills a struct, so that the
 * name and namespace checked are the ones OpenFaaS acts on. Go matches keys case-insensitively
 * (bytes.EqualFold, Unicode simple folding) and lets the last of several matching keys win;
 * JSON.parse keeps only the last exact duplicate and matches nothing case-insensitively, so the
 * top level is scanned here and every key matching a field is compared.
 */
export type JsonFields = { readonly ok: true; readonly values: ReadonlyMap<string, string> } | { readonly ok: false; readonly message: string };

/** `fields` must be ASCII (they are Go struct tags). Absent fields are absent from `values`. */
export function readJsonFields(body: Buffer, fields: readonly string[]): JsonFields {
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, message: 'the request body must be a JSON object' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, message: 'the request body must be a JSON object' };
  }
  const raw = new Map<string, string[]>();
  for (const [key, value] of topLevelEntries(text)) {
    for (const field of fields) {
      if (!foldEquals(key, field)) continue;
      const seen = raw.get(field);
      if (seen) seen.push(value);
      else raw.set(field, [value]);
    }
  }
  const values = new Map<string, string>();
  for (const [field, texts] of raw) {
    let first: string | undefined;
    for (const valueText of texts) {
      const value: unknown = JSON.parse(valueText);
      if (typeof value !== 'string') return { ok: false, message: `"${field}" in the request body must be a string` };
      if (first === undefined) first = value;
      else if (value !== first) {
        return { ok: false, message: `the request body gives "${field}" more than once (keys match case-insensitively), with different values` };
      }
    }
    values.set(field, first as string);
  }
  return { ok: true, values };
}

/**
 * Go's bytes.EqualFold against an ASCII field name: ASCII letters match either case, and the only
 * non-ASCII characters whose simple case folding reaches ASCII are ſ (U+017F, s) and K (U+212A, k).
 */
export function foldEquals(key: string, field: string): boolean {
  let j = 0;
  for (const ch of key) {
    if (j >= field.length) return false;
    const f = field.charCodeAt(j++);
    const c = ch.codePointAt(0) as number;
    if (c === f) continue;
    const lower = f | 0x20;
    const letter = lower >= 0x61 && lower <= 0x7a;
    if (letter && (c | 0x20) === lower && c < 0x80) continue;
    if (c === 0x17f && lower === 0x73) continue;
    if (c === 0x212a && lower === 0x6b) continue;
    return false;
  }
  return j === field.length;
}

/** Every key of the top-level object with its value's JSON text, in order; `text` must be valid JSON. */
export function topLevelEntries(text: string): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  let i = skipSpace(text, 0) + 1; // past "{"
  i = skipSpace(text, i);
  if (text.charCodeAt(i) === RBRACE) return entries;
  for (;;) {
    const keyEnd = stringEnd(text, i);
    const keyText = text.slice(i, keyEnd);
    const key = keyText.includes('\\') ? (JSON.parse(keyText) as string) : keyText.slice(1, -1);
    i = skipSpace(text, skipSpace(text, keyEnd) + 1); // past ":"
    const valueEnd = valueEndAt(text, i);
    entries.push([key, text.slice(i, valueEnd)]);
    i = skipSpace(text, valueEnd);
    if (text.charCodeAt(i) !== COMMA) return entries;
    i = skipSpace(text, i + 1);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return i;
    i++;
  }
}

/** `i` at an opening quote; returns the index after the closing one. */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; ; j++) {
    const c = text.charCodeAt(j);
    if (c === BACKSLASH) j++;
    else if (c === QUOTE) return j + 1;
  }
}

function valueEndAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return stringEnd(text, i);
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    for (let j = i; ; j++) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) j = stringEnd(text, j) - 1;
      else if (d === LBRACE || d === LBRACKET) depth++;
      else if ((d === RBRACE || d === RBRACKET) && --depth === 0) return j + 1;
    }
  }
  let j = i;
  for (;;) {
    const d = text.charCodeAt(j);
    if (d === COMMA || d === RBRACE || d === 0x20 || d === 0x09 || d === 0x0a || d === 0x0d) return j;
    j++;
  }
}
