/**
 * Plain e-mail (RFC 822) → the prose its author wrote: headers, quoted replies, signatures, PGP armour and mailing-list
 * footers removed. Only single-part text/plain messages are read; HTML and MIME multiparts give undefined.
 */

export interface EmailParts {
  /** Header names lower-cased, continuation lines unfolded; the first occurrence of a name wins. */
  headers: Map<string, string>;
  body: string;
}

export function splitEmail(raw: string): EmailParts {
  const text = raw.replace(/\r\n/g, "\n");
  const end = text.indexOf("\n\n");
  const head = (end < 0 ? text : text.slice(0, end)).replace(/\n[ \t]+/g, " ");
  const headers = new Map<string, string>();
  for (const line of head.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0 || line.startsWith("From ")) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body: end < 0 ? "" : text.slice(end + 2) };
}

/** Quoted-printable (RFC 2045): soft line breaks removed, =XX bytes decoded as Latin-1 (the corpus's usual charset). */
export function decodeQuotedPrintable(body: string): string {
  return body.replace(/=\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

// A line from which everything below is not the author's: signature delimiter, list footers, forwarded originals.
const CUT_FROM = [
  /^-- ?$/,
  /^_{20,}\s*$/,
  /^-{5,} ?Original Message ?-{5,}/i,
  /^-{10,} Yahoo! Groups Sponsor/,
  /^-{5,} ?(Forwarded|End of forwarded) message/i,
  /^-----BEGIN PGP SIGNATURE-----/,
  // Raw headers in a body start a message pasted in whole (a spam report, a bounce): not the author's prose.
  /^(Return-Path|Received|Delivered-To|Message-I[dD]|X-[A-Za-z-]+):/,
];
// "On Tue, 3 Sep 2002, Joe wrote:" / "Joe <joe@x.org> writes:" introduce a quoted reply.
const ATTRIBUTION = /^(on .{0,120}|.{0,120}) (wrote|writes|said):\s*$/i;
const PGP_HEADER = /^(-----BEGIN PGP SIGNED MESSAGE-----|Hash: \w+)\s*$/;

/** The author's own text of a message body: quotes, attributions, signatures, footers and PGP armour removed. */
export function authoredText(body: string): string {
  const kept: string[] = [];
  for (const line of body.split("\n")) {
    if (CUT_FROM.some((pattern) => pattern.test(line))) break;
    if (/^\s*(>|\|)/.test(line) || PGP_HEADER.test(line)) continue;
    kept.push(line.replace(/\s+$/, ""));
  }
  // An attribution line is only the lead-in of the quote just removed.
  while (kept.length > 0 && ATTRIBUTION.test(kept.at(-1)!)) kept.pop();
  const text = kept.filter((line, i) => !(ATTRIBUTION.test(line) && (kept[i + 1] ?? "").trim() === "")).join("\n");
  return text.replace(/\n{3,}/g, "\n\n").trim();
}

/**
 * The readable text of a raw message: "Subject: …" then the author's text, or undefined for messages that are not
 * single-part text/plain (HTML, multipart, base64) or hold fewer than `minCharacters` of the author's text.
 */
export function emailToText(raw: string, minCharacters = 200): string | undefined {
  const { headers, body } = splitEmail(raw);
  const contentType = (headers.get("content-type") ?? "text/plain").split(";")[0]!.trim().toLowerCase();
  const encoding = (headers.get("content-transfer-encoding") ?? "7bit").trim().toLowerCase();
  if (contentType !== "text/plain" || encoding === "base64") return undefined;
  const text = authoredText(encoding === "quoted-printable" ? decodeQuotedPrintable(body) : body);
  if (text.length < minCharacters) return undefined;
  const subject = (headers.get("subject") ?? "").trim();
  return subject.length > 0 ? `Subject: ${subject}\n\n${text}` : text;
}
