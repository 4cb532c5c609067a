import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCorpus, summarizeCorpus } from "../../src/data/corpus.js";
import { loadJsonl } from "../../src/data/sources/jsonl.js";
import { loadMobyDick } from "../../src/data/sources/mobyDick.js";
import { loadPythonStdlib } from "../../src/data/sources/pythonStdlib.js";
import { loadSotu } from "../../src/data/sources/sotu.js";
import { loadTextDirectory } from "../../src/data/sources/textDirectory.js";

const scratch = mkdtempSync(join(tmpdir(), "saekit-sources-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("package corpus sources", () => {
  it("State of the Union: one document per address", () => {
    const docs = loadSotu();
    expect(docs).toHaveLength(233);
    expect(docs[0]!.id).toBe("sotu/1790_george_washington_n");
    expect(docs[0]!.text.startsWith("Fellow-Citizens of the Senate and House of Representatives:")).toBe(true);
    expect(docs.at(-1)!.id).toBe("sotu/2021_joseph_r_biden_d");
    expect(docs.every((d) => d.domain === "prose")).toBe(true);
  });

  it("Moby-Dick: etymology, extracts, 135 chapters and the epilogue, without the contents or data.txt", () => {
    const docs = loadMobyDick();
    expect(docs.map((d) => d.id).slice(0, 4)).toEqual(["moby/etymology", "moby/extracts", "moby/chapter_1", "moby/chapter_2"]);
    expect(docs).toHaveLength(138);
    expect(docs.at(-1)!.id).toBe("moby/epilogue");
    expect(docs[2]!.text.startsWith("CHAPTER 1. Loomings.\n\nCall me Ishmael.")).toBe(true);
    const characters = summarizeCorpus(docs).prose.characters;
    expect(characters).toBeGreaterThan(1.15e6); // docs/data.md: 1.2 M characters; the duplicate data.txt would double it
    expect(characters).toBeLessThan(1.3e6);
  });

  it("CPython stdlib: every .py file of pyodide's zip, about 9.6 M characters", () => {
    const docs = loadPythonStdlib();
    expect(docs).toHaveLength(559);
    expect(docs.every((d) => d.domain === "code" && d.id.startsWith("code/") && d.id.endsWith(".py"))).toBe(true);
    expect(docs.find((d) => d.id === "code/json/decoder.py")!.text).toContain("class JSONDecoder(object):");
    const characters = summarizeCorpus(docs).code.characters;
    expect(characters).toBeGreaterThan(9.4e6);
    expect(characters).toBeLessThan(9.8e6);
  });
});

describe("user corpus sources", () => {
  it("reads a folder recursively: .txt/.md as prose, code extensions as code, other files skipped", () => {
    const dir = join(scratch, "mydocs");
    mkdirSync(join(dir, "sub", "deeper"), { recursive: true });
    mkdirSync(join(dir, ".git"));
    mkdirSync(join(dir, "node_modules"));
    writeFileSync(join(dir, "notes.txt"), "Some prose.\n");
    writeFileSync(join(dir, "README.md"), "# Title\n\nMore prose.\n");
    writeFileSync(join(dir, "sub", "tool.py"), "def main():\n    pass\n");
    writeFileSync(join(dir, "sub", "deeper", "lib.ts"), "export const x = 1;\n");
    writeFileSync(join(dir, "sub", "data.csv"), "a,b\n1,2\n");
    writeFileSync(join(dir, "sub", "empty.txt"), "  \n");
    writeFileSync(join(dir, ".git", "HEAD.txt"), "ref\n");
    writeFileSync(join(dir, "node_modules", "dep.js"), "module.exports = 1;\n");
    expect(loadTextDirectory(dir).map((d) => [d.id, d.domain])).toEqual([
      ["mydocs/README.md", "prose"],
      ["mydocs/notes.txt", "prose"],
      ["mydocs/sub/deeper/lib.ts", "code"],
      ["mydocs/sub/tool.py", "code"],
    ]);
    writeFileSync(join(dir, "latin1.txt"), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    expect(() => loadTextDirectory(dir)).toThrow(/latin1\.txt: not valid UTF-8/);
  });

  it("reads JSON Lines with optional domain and id", () => {
    const file = join(scratch, "docs.jsonl");
    writeFileSync(file, ['{"text": "first"}', "", '{"text": "x = 1", "domain": "code", "id": "snippet/1"}', ""].join("\n"));
    expect(loadJsonl(file)).toEqual([
      { id: "docs.jsonl/line_1", domain: "prose", text: "first" },
      { id: "snippet/1", domain: "code", text: "x = 1" },
    ]);
  });

  it("names the file and line of a bad JSON Lines record", () => {
    const cases: [string, RegExp][] = [
      ['{"text": "ok"}\n{"text": oops}\n', /bad\.jsonl:2: invalid JSON/],
      ['{"text": 3}\n', /bad\.jsonl:1: "text" must be a string/],
      ['{"text": "a", "domain": "poetry"}\n', /bad\.jsonl:1: "domain" must be "prose" or "code"/],
      ['["text"]\n', /bad\.jsonl:1: expected an object/],
    ];
    for (const [content, error] of cases) {
      const file = join(scratch, "bad.jsonl");
      writeFileSync(file, content);
      expect(() => loadJsonl(file)).toThrow(error);
    }
  });

  it("refuses duplicate ids across sources", () => {
    const file = join(scratch, "dup.jsonl");
    writeFileSync(file, '{"text": "a", "id": "same"}\n{"text": "b", "id": "same"}\n');
    expect(() => loadCorpus([{ kind: "jsonl", path: file }])).toThrow(/duplicate document id "same"/);
  });
});
