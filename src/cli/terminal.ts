/**
 * Text for the terminal: token text comes from the corpus and from users' prompts, and a raw ESC or BEL in it would
 * drive the terminal (colours, cursor moves, title changes) instead of being shown. Control characters other than
 * newline and tab are written as visible escapes (\x1b, \x07, \u009b).
 */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]/g;

export function terminalSafe(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
