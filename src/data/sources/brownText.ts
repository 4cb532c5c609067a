/**
 * Turns the Brown corpus's tagged, pre-tokenised form ("The/at jury/nn said/vbd ``/`` no/at ''/'' ./.") back into
 * ordinary running text, so the model sees prose the way it is printed rather than the corpus's token conventions.
 *
 * File layout: paragraphs are separated by blank lines; inside a paragraph each sentence is one line; headlines are
 * lines whose tags all carry the "-hl" suffix.
 */

/** The word without its part-of-speech tag: the tag is everything after the last "/" ("and/or/cc" → "and/or"). */
export function stripBrownTag(taggedToken: string): string {
  const slash = taggedToken.lastIndexOf("/");
  return slash > 0 ? taggedToken.slice(0, slash) : taggedToken;
}

// Punctuation printed against the word before it, and openers printed against the word after.
const CLOSES_LEFT = new Set([",", ".", ";", ":", "?", "!", ")", "]", "}", "%"]);
const OPENS_RIGHT = new Set(["(", "[", "{"]);
// Clitics that a tokeniser may have split off ("did n't", "John 's"); Brown itself mostly keeps them joined.
const CLITIC = /^(n't|'s|'re|'ve|'ll|'d|'m)$/i;

/** Joins the (untagged) tokens of one paragraph into text with conventional spacing. */
export function detokenizeBrownTokens(tokens: readonly string[]): string {
  let text = "";
  let glueNext = true; // no space before the next token (start of text, or after an opener)
  let singleQuoteOpen = false; // a lone "'" is a quote mark; alternate opening and closing within a paragraph
  let doubleQuoteOpen = false;
  let previous = "";

  const attach = (piece: string): void => {
    text += piece;
  };
  const spaced = (piece: string): void => {
    text += glueNext ? piece : ` ${piece}`;
  };

  for (const token of tokens) {
    if (token === "``") {
      spaced('"');
      glueNext = true;
      doubleQuoteOpen = true;
    } else if (token === "''" && !doubleQuoteOpen && previous.endsWith("''")) {
      // Measurements in inches come out as "10''/nns ''/''": the second mark closes nothing, so it is dropped.
    } else if (token === "''") {
      attach('"');
      glueNext = false;
      doubleQuoteOpen = false;
    } else if (token === "'") {
      if (singleQuoteOpen) {
        attach("'");
        glueNext = false;
      } else {
        spaced("'");
        glueNext = true;
      }
      singleQuoteOpen = !singleQuoteOpen;
    } else if (token === "--") {
      // A dash joins both neighbours: "Hospital--Mr. McKinley".
      attach("--");
      glueNext = true;
    } else if (token === "." && text.endsWith(".")) {
      // Brown repeats the full stop after a sentence-final abbreviation ("Okla. ."): print it once.
      glueNext = false;
    } else if (CLOSES_LEFT.has(token) || CLITIC.test(token)) {
      attach(token);
      glueNext = false;
    } else if (OPENS_RIGHT.has(token)) {
      spaced(token);
      glueNext = true;
    } else {
      spaced(token);
      glueNext = false;
    }
    previous = token;
  }
  return text;
}

/** One Brown file (e.g. the contents of `ca01`) as plain text: paragraphs separated by a blank line. */
export function brownFileToText(raw: string): string {
  const paragraphs: string[] = [];
  for (const block of raw.split(/\n[ \t]*\n/)) {
    let tokens: string[] = [];
    for (const line of block.split("\n")) {
      const tagged = line.trim().split(/\s+/).filter((t) => t.length > 0);
      if (tagged.length === 0) continue;
      if (tagged.every(isHeadlineToken)) {
        // A headline stands on its own line rather than running into the first sentence.
        if (tokens.length > 0) paragraphs.push(detokenizeBrownTokens(tokens));
        paragraphs.push(detokenizeBrownTokens(tagged.map(stripBrownTag)));
        tokens = [];
      } else {
        tokens.push(...tagged.map(stripBrownTag));
      }
    }
    if (tokens.length > 0) paragraphs.push(detokenizeBrownTokens(tokens));
  }
  return paragraphs.join("\n\n");
}

function isHeadlineToken(taggedToken: string): boolean {
  const slash = taggedToken.lastIndexOf("/");
  return slash > 0 && taggedToken.slice(slash + 1).endsWith("-hl");
}
