/** GPT-2's byte-level alphabet inverted: token bytes that a one-token decode turns into U+FFFD. */
import { describe, expect, it } from "vitest";
import { byteLevelBytes, byteLevelDecoder } from "../../src/data/byte-level.js";
import { loadGpt2Tokenizer } from "../../src/data/tokenizer.js";

describe("byte-level token bytes", () => {
  it("the alphabet has 256 characters, one per byte; Ġ is the space byte", () => {
    const map = byteLevelDecoder();
    expect(map.size).toBe(256);
    expect(new Set(map.values()).size).toBe(256);
    expect(map.get("Ġ")).toBe(0x20);
    expect(map.get("A")).toBe(0x41);
    expect(byteLevelBytes("<|x|>\u4e00")).toBeNull();
  });

  it("tokenBytes: the tokens of Cyrillic, Chinese and emoji text concatenate to the text's UTF-8", () => {
    const tok = loadGpt2Tokenizer();
    for (const text of ["Привет, мир", "你好世界", "hi 😀 there", " the end"]) {
      const ids = Array.from(tok.encode(text));
      expect(Buffer.concat(ids.map((id) => Buffer.from(tok.tokenBytes!(id)))).toString("utf8")).toBe(text);
    }
    // "😀" = F0 9F 98 80 is split after its third byte.
    const ids = Array.from(tok.encode(" 😀"));
    expect(ids.map((id) => Buffer.from(tok.tokenBytes!(id)).toString("hex"))).toEqual(["20f09f98", "80"]);
    expect(Array.from(tok.tokenBytes!(tok.eotId))).toEqual([...Buffer.from("<|endoftext|>")]);
    expect(() => tok.tokenBytes!(60000)).toThrow(/outside/);
  });
});
