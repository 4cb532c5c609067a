/**
 * GPT-2's byte-level alphabet (the ByteLevel pre-tokenizer/decoder of Hugging Face tokenizers): every byte 0–255 is
 * written as one printable character in vocabulary strings ("Ġ" is the space byte 0x20, "Ð" is 0xD0). Inverting it
 * gives a token's raw bytes, which a single-token decode cannot: a token holding half of a UTF-8 character decodes
 * to U+FFFD. Dashboards merge such bytes across neighbouring tokens (web/src/token-bytes.ts).
 */

/** byte → character, as GPT-2's bytes_to_unicode(). */
function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const out = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return out;
}

let decoder: Map<string, number> | null = null;

/** character → byte of the byte-level alphabet. */
export function byteLevelDecoder(): Map<string, number> {
  if (!decoder) decoder = new Map(bytesToUnicode().map((c, b) => [c, b]));
  return decoder;
}

/**
 * The bytes a byte-level vocabulary string stands for ("Ġthe" → 20 74 68 65), or null when a character is outside
 * the alphabet (an added token such as "<|endoftext|>" is plain text: the caller uses its UTF-8).
 */
export function byteLevelBytes(token: string): Uint8Array | null {
  const map = byteLevelDecoder();
  const out: number[] = [];
  for (const ch of token) {
    const b = map.get(ch);
    if (b === undefined) return null;
    out.push(b);
  }
  return Uint8Array.from(out);
}
