/**
 * Characters that must never reach an operator's terminal raw: C0 controls (ESC starts the
 * sequences that move the cursor, recolour, retitle or clear the screen), DEL, C1 controls (CSI
 * U+009B is ESC [ in one character), the bidirectional marks, embeddings, overrides and isolates
 * that reorder what is shown, the zero-width characters that hide text, line and paragraph
 * separators, and the BOM.
 *
 * @see https://www.unicode.org/reports/tr9/ (bidirectional formatting characters)
 * @see https://www.ecma-international.org/publications-and-standards/standards/ecma-48/
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/u;
const UNSAFE_GLOBAL = new RegExp(`${UNSAFE.source}|\\\\`, 'gu');

/** True when `text` holds a character `escapeForTerminal` would escape (backslash aside). */
export function hasUnsafeCharacters(text: string): boolean {
  return UNSAFE.test(text);
}

/**
 * `text` made safe to print: each unsafe character as `\u{hex}`, and a backslash as `\\` so an
 * escape cannot be forged by a name that spells one out.
 */
export function escapeForTerminal(text: string): string {
  return text.replace(UNSAFE_GLOBAL, (c) => (c === '\\' ? '\\\\' : `\\u{${c.codePointAt(0)!.toString(16)}}`));
}
