import { XMLBuilder, XMLParser } from "fast-xml-parser";
import { S3Error, s3ErrorFor } from "../errors/s3-errors.js";

const S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/";
/** Where the parser puts CDATA sections, whose text is literal (no references inside). */
const CDATA = "#cdata";
const TEXT = "#text";

const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** XML 1.0's Char production: what a character reference may name. */
function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/**
 * Decode the five predefined entities and decimal/hex character references of one text value.
 * Anything else after `&` (an unknown entity, a reference to a forbidden code point such as
 * `&#0;` or a surrogate, a bare `&`) makes the document malformed, as in any XML parser.
 */
export function decodeReferences(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&([^;&]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(";")) throw s3ErrorFor("xml-bare-ampersand");
    const named = NAMED[name];
    if (named !== undefined) return named;
    const m = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(name);
    const cp = m ? (m[1] !== undefined ? Number.parseInt(m[1], 16) : Number(m[2])) : Number.NaN;
    if (!isXmlChar(cp)) {
      throw s3ErrorFor("xml-bad-reference", { whole });
    }
    return String.fromCodePoint(cp);
  });
}

/** Decode every text value of a parsed document; CDATA stays literal and joins the text. */
function decodeTree(value: unknown): XmlValue {
  if (typeof value === "string") return decodeReferences(value);
  if (Array.isArray(value)) return value.map(decodeTree);
  if (value !== null && typeof value === "object") {
    const node = value as Record<string, unknown>;
    if (CDATA in node && Object.keys(node).every((k) => k === CDATA || k === TEXT)) {
      const text = node[TEXT] === undefined ? "" : decodeReferences(String(node[TEXT]));
      const cdata = ([] as unknown[]).concat(node[CDATA]).join("");
      return text + cdata;
    }
    const out: XmlNode = {};
    for (const [k, v] of Object.entries(node)) out[k] = decodeTree(v);
    return out;
  }
  return value as XmlValue;
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  suppressEmptyNode: false,
});

// Request bodies are small documents (Delete, CompleteMultipartUpload, CreateBucketConfiguration);
// values stay strings so keys like "0001" or "true" are not coerced into numbers or booleans.
// References are decoded by `decodeReferences` below, not by the parser: it leaves numeric ones
// (`&#34;`, which Go's encoder writes for every quote) undecoded unless told to accept HTML's
// named entities too, and it drops references to code points XML forbids instead of refusing them.
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: false,
  cdataPropName: CDATA,
  isArray: (name) => name === "Object" || name === "Part",
});

export type XmlValue = string | number | boolean | XmlNode | XmlValue[] | undefined;
export interface XmlNode {
  [name: string]: XmlValue;
}

/** Serialise one S3 response document: `<Root xmlns="...">…</Root>` with an XML declaration. */
export function toXml(root: string, body: XmlNode, options: { namespace?: boolean } = {}): string {
  const withNs = options.namespace === false ? body : { "@_xmlns": S3_NS, ...body };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: withNs })}`;
}

/** Parse a request body; anything that is not well-formed XML with the expected root is MalformedXML. */
export function parseXmlBody(text: string, root: string): XmlNode {
  // A DTD could declare entities (and expand them without bound); S3 bodies never carry one.
  if (/<!DOCTYPE/i.test(text)) throw s3ErrorFor("xml-doctype");
  let doc: unknown;
  try {
    doc = decodeTree(parser.parse(text, true));
  } catch (err) {
    if (err instanceof S3Error) throw err;
    throw s3ErrorFor("xml-malformed");
  }
  const node = (doc as Record<string, unknown> | undefined)?.[root];
  if (node === undefined || node === null || typeof node !== "object") {
    throw s3ErrorFor("xml-wrong-root", { root });
  }
  return node as XmlNode;
}

/** Read a text child of a parsed node, or undefined. */
export function textOf(node: XmlNode | undefined, name: string): string | undefined {
  const value = node?.[name];
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return "";
}
