/**
 * Readable text for byte-level BPE tokens. GPT-2's tokenizer splits characters outside ASCII between tokens ("П" =
 * D0 9F is two tokens, "你" = E4 BD A0 is E4 BD + A0), and each such token decoded alone is "�". Tokenizer-aware
 * viewers decode a run of neighbouring tokens whose bytes only form valid UTF-8 together; here each character of
 * the run is shown on the token that holds its first byte, and a token that only continues a character shows
 * nothing (its own bytes go in the tooltip). Bytes that are invalid UTF-8 in any case stay "�" on their token, one
 * per maximal invalid subsequence, as TextDecoder (the WHATWG decoder) does. Pure functions: no DOM.
 */

/** Longest run of tokens merged for one display (a UTF-8 character has at most 4 bytes; chains are short). */
const MAX_RUN = 16;

export interface DecodedChar {
  /** The character, or U+FFFD for an invalid or incomplete sequence. */
  text: string;
  /** Byte offset of its first byte. */
  start: number;
}

/** WHATWG UTF-8 decode with the byte offset of each character; `incomplete` when the bytes end inside a character. */
export function decodeUtf8(bytes: readonly number[]): { chars: DecodedChar[]; incomplete: boolean } {
  const chars: DecodedChar[] = [];
  let needed = 0;
  let seen = 0;
  let cp = 0;
  let lower = 0x80;
  let upper = 0xbf;
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (needed === 0) {
      start = i;
      if (b <= 0x7f) chars.push({ text: String.fromCharCode(b), start: i });
      else if (b >= 0xc2 && b <= 0xdf) (needed = 1), (cp = b & 0x1f);
      else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
        needed = 2;
        cp = b & 0x0f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
        needed = 3;
        cp = b & 0x07;
      } else chars.push({ text: "\ufffd", start: i });
      continue;
    }
    if (b < lower || b > upper) {
      // The sequence so far is one error; the byte starts afresh.
      chars.push({ text: "\ufffd", start });
      needed = seen = cp = 0;
      lower = 0x80;
      upper = 0xbf;
      i--;
      continue;
    }
    lower = 0x80;
    upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    if (++seen === needed) {
      chars.push({ text: String.fromCodePoint(cp), start });
      needed = seen = cp = 0;
    }
  }
  const incomplete = needed !== 0;
  if (incomplete) chars.push({ text: "\ufffd", start });
  return { chars, incomplete };
}

export interface TokenPiece {
  /** What this token shows: the characters whose first byte it holds ("" when it only continues one). */
  text: string;
  /** First and last token of the run it was decoded with (equal when it decodes alone). */
  runStart: number;
  runEnd: number;
  /** The whole run's text (the token's own text when it decodes alone). */
  runText: string;
}

const isContinuation = (b: number | undefined) => b !== undefined && b >= 0x80 && b <= 0xbf;

/**
 * Display pieces of a token sequence. A token without `bytes` (pages written before they were sent) shows its
 * `text` as is and is never merged.
 */
export function mergeTokenText(tokens: readonly { text: string; bytes?: readonly number[] }[]): TokenPiece[] {
  const out: TokenPiece[] = [];
  let i = 0;
  while (i < tokens.length) {
    const first = tokens[i]!;
    if (!first.bytes) {
      out.push({ text: first.text, runStart: i, runEnd: i, runText: first.text });
      i++;
      continue;
    }
    // Extend the run while it ends inside a character and the next token continues it.
    const bytes = [...first.bytes];
    const owner: number[] = first.bytes.map(() => i);
    let end = i;
    let decoded = decodeUtf8(bytes);
    while (decoded.incomplete && end + 1 < tokens.length && end + 1 - i < MAX_RUN && isContinuation(tokens[end + 1]!.bytes?.[0])) {
      end++;
      for (const b of tokens[end]!.bytes!) {
        bytes.push(b);
        owner.push(end);
      }
      decoded = decodeUtf8(bytes);
    }
    const texts = Array.from({ length: end - i + 1 }, () => "");
    for (const c of decoded.chars) texts[owner[c.start]! - i] += c.text;
    const runText = texts.join("");
    for (let t = i; t <= end; t++) out.push({ text: texts[t - i]!, runStart: i, runEnd: end, runText });
    i = end + 1;
  }
  return out;
}

/** Bytes as hex pairs: "d0 9f". */
export function hexBytes(bytes: readonly number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ");
}
