/**
 * Text from the database that an ingester controls (symbols, exchange names) or that any login
 * controls (a role name, an application_name) as a terminal or a log viewer shows it: the
 * characters they would act on are written as visible escapes instead.
 */

/**
 * What a terminal acts on instead of showing: C0 controls (ESC, CR, LF, BEL, ...), DEL, the C1
 * controls (a single-code-point CSI or OSC), the line and paragraph separators, and the
 * bidirectional overrides and isolates that reorder what follows on the line. The backslash too,
 * so an escape read back is never ambiguous with the same letters typed by an ingester.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const TERMINAL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/g;

/** Everything but printable ASCII (and the backslash): what CloudWatch accepts in a dimension value. */
const NOT_PRINTABLE_ASCII = /[^\u0020-\u005b\u005d-\u007e]/gu;

/** The same controls outside the backslash, inside JSON text (where JSON.stringify leaves all but C0 raw). */
const JSON_RAW_CONTROLS = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `\\`, `\x1b`, `\u202e`, `\u{1f600}`: a character as the escape a reader can type back. */
function escapeCharacter(character: string): string {
  if (character === '\\') return '\\\\';
  const code = character.codePointAt(0) ?? 0;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

/** `text` with every terminal control written as a visible escape (`\x1b]0;...\x07`); other characters unchanged. */
export function printable(text: string): string {
  return text.replace(TERMINAL_CONTROLS, escapeCharacter);
}

/** `text` as printable ASCII alone: every other character (controls, non-ASCII) as a visible escape. */
export function printableAscii(text: string): string {
  return text.replace(NOT_PRINTABLE_ASCII, escapeCharacter);
}

/**
 * JSON.stringify for a terminal: the same JSON value (JSON.parse gives back exactly the same
 * strings), with the controls JSON.stringify leaves raw (DEL, C1, separators, bidirectional
 * overrides) written as `\u` escapes. They only ever occur inside strings.
 */
export function terminalJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(
    JSON_RAW_CONTROLS,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

/** A word as a POSIX shell reads it back unchanged: single-quoted when it holds anything a shell would act on (a name from a URL, `?`, `&`). */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
