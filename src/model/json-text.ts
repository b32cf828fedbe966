/**
 * The text of a --json document, the same for every front end (the CLI prints it, the web server sends
 * it): two-space indented JSON with DEL and C1 controls (which JSON.stringify leaves raw) and the
 * line/paragraph separators and bidi controls and marks written as \u escapes, the same JSON value, nothing a
 * terminal acts on; one trailing newline.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n';
}
