import { describe, expect, it } from "vitest";
import { CORPUS_V1_SOURCES, CORPUS_V2_SOURCES, corpusVersionSources, DEFAULT_CORPUS_SOURCES, loadCorpusBySource } from "../../src/data/corpus.js";
import { splitCorpus } from "../../src/data/split.js";
import { authoredText, decodeQuotedPrintable, emailToText, splitEmail } from "../../src/data/sources/emailText.js";
import { factbookProfileText, isFactbookProse, loadFactbook } from "../../src/data/sources/factbook.js";
import { loadGyp } from "../../src/data/sources/gyp.js";
import { loadPygments } from "../../src/data/sources/pygments.js";
import { decodeMailBytes, dropRepeatedParagraphs, loadSpamAssassin } from "../../src/data/sources/spamAssassin.js";
import { loadTypeshed } from "../../src/data/sources/typeshed.js";
import { loadWordnet, wordnetEntry } from "../../src/data/sources/wordnet.js";

describe("WordNet glosses", () => {
  it("turns a data-file line into 'words: gloss; examples', dropping adjective markers and underscores", () => {
    const line =
      '00002724 29 v 02 choke 0 take_a_breath(a) 1 002 @ 00001740 v 0000 + 14081734 n 0101 01 + 02 00 | breathe with great difficulty; "She choked with emotion"  ';
    expect(wordnetEntry(line)).toBe('choke, take a breath: breathe with great difficulty; "She choked with emotion"');
    expect(wordnetEntry("  1 This software and database is being provided to you")).toBeUndefined();
    expect(wordnetEntry("00002724 29 v 05 choke 0 | too few words for the count")).toBeUndefined();
  });

  it("pages of 250 synsets of one part of speech, named after the first synset", () => {
    const docs = loadWordnet();
    expect(docs).toHaveLength(473);
    expect(docs[0]!.id).toBe("wordnet/noun/00001740");
    expect(docs[0]!.text.split("\n")).toHaveLength(250);
    expect(docs.every((d) => d.domain === "prose")).toBe(true);
    expect(docs.some((d) => d.text.includes("\nliberty: freedom of choice;"))).toBe(true);
  });
});

describe("World Factbook profiles", () => {
  it("keeps prose fields and drops lists and figures", () => {
    const background = "The country lies on a river. It was founded long ago by traders. Its people farm the plains and fish the coast.";
    const list = "bulk carrier 33, cargo 76, chemical tanker 58, container 178, liquefied gas 6, passenger 2, passenger/cargo 64, " +
      "petroleum tanker 21, refrigerated cargo 11, roll on/roll off 9, vehicle carrier 1. Total 513. Registered 2015.";
    expect(isFactbookProse(background.repeat(2))).toBe(true);
    expect(isFactbookProse(list)).toBe(false);
    const profile = { Introduction: { Background: { text: `${background} ++ ${background}` } }, Transportation: { "by type": { text: list } } };
    expect(factbookProfileText(profile)).toBe(`Background: ${background}\n\n${background}`);
  });

  it("one document per country, United Kingdom's background first", () => {
    const docs = loadFactbook();
    expect(docs.length).toBeGreaterThan(240);
    const uk = docs.find((d) => d.id === "factbook/europe/uk")!;
    expect(uk.text.startsWith("Background: The United Kingdom has historically played a leading role")).toBe(true);
    expect(uk.text).not.toContain("bulk carrier");
  });
});

describe("e-mail text", () => {
  const message = [
    "From joe@example.org  Thu Aug 22 13:52:59 2002",
    "Subject: Re: the meeting",
    "Content-Type: text/plain;",
    "  charset=us-ascii",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "On Tue, 3 Sep 2002, Ann wrote:",
    "> When do we meet?",
    "> Soon?",
    "",
    "We meet on Friday at the caf=E9 near the station, because the hall is being painted and nobody wants to sit in th=",
    "e smell of fresh paint for three hours. Bring the minutes of the last meeting and the budget.",
    "",
    "-- ",
    "Joe, who signs everything",
    "",
  ].join("\n");

  it("splits and unfolds headers", () => {
    const { headers, body } = splitEmail(message);
    expect(headers.get("content-type")).toBe("text/plain; charset=us-ascii");
    expect(headers.get("subject")).toBe("Re: the meeting");
    expect(body.startsWith("On Tue")).toBe(true);
  });

  it("decodes quoted-printable and keeps only the author's text", () => {
    expect(decodeQuotedPrintable("caf=E9 soft=\nbreak")).toBe("café softbreak");
    expect(authoredText("Hi all.\n> quoted\n\nBye.\n_______________________\nList footer")).toBe("Hi all.\n\nBye.");
    expect(emailToText(message)).toBe(
      "Subject: Re: the meeting\n\nWe meet on Friday at the café near the station, because the hall is being painted and nobody wants to sit in " +
        "the smell of fresh paint for three hours. Bring the minutes of the last meeting and the budget.",
    );
  });

  it("rejects HTML, base64 and short messages", () => {
    expect(emailToText("Content-Type: text/html\n\n<p>" + "x ".repeat(200))).toBeUndefined();
    expect(emailToText("Content-Transfer-Encoding: base64\n\n" + "QUJD".repeat(100))).toBeUndefined();
    expect(emailToText("Subject: hi\n\nshort")).toBeUndefined();
  });

  it("decodes UTF-8 when valid, else Latin-1", () => {
    expect(decodeMailBytes(Buffer.from("café", "utf8"))).toBe("café");
    expect(decodeMailBytes(Buffer.from([0x63, 0x61, 0x66, 0xe9]))).toBe("café");
  });

  it("drops paragraphs repeated across three or more messages (list footers)", () => {
    const footer = "To unsubscribe send mail to list-request.";
    const texts = ["A one.\n\n" + footer, "B two.\n\n" + footer, "C three.\n\n" + footer, "D four.\n\nshared twice", "E.\n\nshared twice"];
    expect(dropRepeatedParagraphs(texts)).toEqual(["A one.", "B two.", "C three.", "D four.\n\nshared twice", "E.\n\nshared twice"]);
  });

  it("SpamAssassin ham: cleaned messages with no headers or quotes", () => {
    const docs = loadSpamAssassin();
    expect(docs.length).toBeGreaterThan(2500);
    expect(docs.every((d) => d.domain === "prose" && d.id.startsWith("spamassassin/") && !/^Received:/m.test(d.text) && !/^>/m.test(d.text))).toBe(true);
    expect(docs.find((d) => d.id === "spamassassin/easy-ham-1/00007")!.text).toContain("Rolf Eden, 72, a Berlin disco owner");
  });
});

describe("Python sources", () => {
  it("typeshed stubs, GYP and Pygments (without its build copies and generated tables)", () => {
    const stubs = loadTypeshed();
    expect(stubs.length).toBeGreaterThan(4500);
    expect(stubs.find((d) => d.id === "typeshed/stdlib/json/decoder.pyi")!.text).toContain("class JSONDecoder:");
    const gyp = loadGyp();
    expect(gyp.find((d) => d.id === "gyp/pylib/gyp/input.py")!.text).toContain("def ");
    const pygments = loadPygments();
    expect(pygments.some((d) => d.id === "pygments/pygments/lexer.py")).toBe(true);
    expect(pygments.some((d) => d.id.includes("build-") || d.id.endsWith("_phpbuiltins.py") || d.id.endsWith("unistring.py"))).toBe(false);
    expect([...stubs, ...gyp, ...pygments].every((d) => d.domain === "code")).toBe(true);
  });
});

describe("corpus versions", () => {
  it("v2 is the default; it extends v1; unknown versions fail naming the known ones", () => {
    expect(DEFAULT_CORPUS_SOURCES).toBe(CORPUS_V2_SOURCES);
    expect(corpusVersionSources("v2").slice(0, CORPUS_V1_SOURCES.length)).toEqual(CORPUS_V1_SOURCES);
    expect(() => corpusVersionSources("v3")).toThrow('unknown corpus version "v3" (known: v1, v2)');
  });

  it("v2 holds every v1 document unchanged and in the same split; new repeats are dropped", () => {
    const v1 = loadCorpusBySource(CORPUS_V1_SOURCES).flatMap((s) => s.documents);
    const v2BySource = loadCorpusBySource(CORPUS_V2_SOURCES);
    const v2 = v2BySource.flatMap((s) => s.documents);
    expect(v2.slice(0, v1.length)).toEqual(v1);
    const splitOf = (docs: typeof v1) => {
      const s = splitCorpus(docs);
      return new Map([...s.prose.validation, ...s.code.validation].map((d) => [d.id, "validation"]));
    };
    const v1Validation = splitOf(v1);
    const v2Validation = splitOf(v2);
    for (const id of v1Validation.keys()) expect(v2Validation.has(id)).toBe(true);
    expect([...v2Validation.keys()].filter((id) => v1.some((d) => d.id === id)).length).toBe(v1Validation.size);
    // No text appears twice among the added sources' documents or between them and v1.
    const added = v2.slice(v1.length);
    const key = (t: string) => t.replace(/\s+/g, " ").trim();
    const seen = new Set(v1.map((d) => key(d.text)));
    for (const d of added) {
      expect(seen.has(key(d.text))).toBe(false);
      seen.add(key(d.text));
    }
    expect(v2BySource.find((s) => s.source.kind === "typeshed")!.duplicatesDropped).toBeGreaterThan(0);
  }, 60_000);
});
