/** Byte-level token display (web/src/token-bytes.ts) on real GPT-2 token bytes and on invalid byte sequences. */
import { describe, expect, it } from "vitest";
import { loadGpt2Tokenizer } from "../../src/data/tokenizer.js";
import { Rng } from "../../src/core/rng.js";
import { decodeUtf8, hexBytes, mergeTokenText } from "../../web/src/token-bytes.js";

const tok = loadGpt2Tokenizer();
const tokensOf = (text: string) => Array.from(tok.encode(text), (id) => ({ text: tok.tokenText(id), bytes: Array.from(tok.tokenBytes!(id)) }));
const pieces = (tokens: { text: string; bytes?: number[] }[]) => mergeTokenText(tokens).map((p) => p.text);

describe("mergeTokenText", () => {
  it("Cyrillic: 'П' (D0 9F) split over two tokens shows on the first, the rest decode alone", () => {
    const tokens = tokensOf("Привет, мир");
    expect(tokens.slice(0, 2).map((t) => t.text)).toEqual(["\ufffd", "\ufffd"]);
    const p = mergeTokenText(tokens);
    expect(p.map((x) => x.text)).toEqual(["П", "", "р", "и", "в", "е", "т", ",", " м", "", "и", "р"]);
    expect(p[0]).toEqual({ text: "П", runStart: 0, runEnd: 1, runText: "П" });
    expect(p[1]).toEqual({ text: "", runStart: 0, runEnd: 1, runText: "П" });
    expect(p[2]).toEqual({ text: "р", runStart: 2, runEnd: 2, runText: "р" });
    expect(p[8]!.runText).toBe(" м");
  });

  it("Chinese: every character split 2 + 1 bytes, and the full-width comma 1 + 1 + 1", () => {
    const tokens = tokensOf("你好世界，我们");
    expect(tokens.every((t) => t.text === "\ufffd")).toBe(true);
    expect(pieces(tokens)).toEqual(["你", "", "好", "", "世", "", "界", "", "，", "", "", "我", "", "们", ""]);
    expect(mergeTokenText(tokens)[9]).toMatchObject({ runStart: 8, runEnd: 10, runText: "，" });
  });

  it("an emoji split after its third byte: ' 😀' on the first token", () => {
    const tokens = tokensOf("hi 😀 there");
    expect(tokens.map((t) => hexBytes(t.bytes))).toEqual(["68 69", "20 f0 9f 98", "80", "20 74 68 65 72 65"]);
    expect(pieces(tokens)).toEqual(["hi", " 😀", "", " there"]);
  });

  it("invalid sequences stay U+FFFD on their own token; tokens without bytes are shown as sent", () => {
    // A lone continuation byte, a byte never valid in UTF-8, and a lead byte followed by ASCII.
    expect(pieces([{ text: "?", bytes: [0x80] }, { text: "?", bytes: [0xff] }, { text: "?", bytes: [0xe4, 0xbd] }, { text: "A", bytes: [0x41] }])).toEqual(["\ufffd", "\ufffd", "\ufffd", "A"]);
    // A completed character followed by a stray continuation byte in the same token.
    expect(pieces([{ text: "?", bytes: [0xd0] }, { text: "?", bytes: [0x9f, 0x9f] }])).toEqual(["П", "\ufffd"]);
    // Surrogates and overlongs are invalid (ED A0 80, C0 AF).
    expect(pieces([{ text: "?", bytes: [0xed] }, { text: "?", bytes: [0xa0, 0x80] }])).toEqual(["\ufffd", "\ufffd\ufffd"]);
    expect(pieces([{ text: "?", bytes: [0xc0, 0xaf] }])).toEqual(["\ufffd\ufffd"]);
    // An incomplete character at the very end.
    expect(pieces([{ text: "a", bytes: [0x61] }, { text: "?", bytes: [0xf0, 0x9f] }])).toEqual(["a", "\ufffd"]);
    expect(pieces([{ text: "\ufffd" }, { text: "x" }])).toEqual(["\ufffd", "x"]);
  });

  it("joined pieces equal TextDecoder on the concatenated bytes, for random splits of random text and bytes", () => {
    const rng = new Rng(7);
    const alphabet = ["a", " ", "П", "ж", "你", "界", "😀", "é", "\u{10348}", "\n"];
    for (let trial = 0; trial < 300; trial++) {
      let bytes: number[];
      if (trial % 2 === 0) {
        let s = "";
        for (let i = 0; i < 12; i++) s += alphabet[Math.floor(rng.uniform() * alphabet.length)];
        bytes = [...Buffer.from(s, "utf8")];
      } else {
        bytes = Array.from({ length: 20 }, () => (rng.uniform() < 0.5 ? 0x80 + Math.floor(rng.uniform() * 0x40) : Math.floor(rng.uniform() * 256)));
      }
      const tokens: { text: string; bytes: number[] }[] = [];
      for (let i = 0; i < bytes.length; ) {
        const len = 1 + Math.floor(rng.uniform() * 3);
        tokens.push({ text: "", bytes: bytes.slice(i, i + len) });
        i += len;
      }
      expect(pieces(tokens).join("")).toBe(new TextDecoder().decode(Uint8Array.from(bytes)));
    }
  });

  it("decodeUtf8 gives each character's first byte", () => {
    expect(decodeUtf8([0x61, 0xd0, 0x9f, 0xe4, 0xbd, 0xa0])).toEqual({
      chars: [{ text: "a", start: 0 }, { text: "П", start: 1 }, { text: "你", start: 3 }],
      incomplete: false,
    });
    expect(decodeUtf8([0xe4, 0xbd]).incomplete).toBe(true);
  });
});
