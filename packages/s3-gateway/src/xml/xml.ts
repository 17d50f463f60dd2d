import { XMLBuilder, XMLParser } from "fast-xml-parser";
import { S3Error } from "../errors/s3-errors.js";

const S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/";

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  suppressEmptyNode: false,
});

// Request bodies are small documents (Delete, CompleteMultipartUpload, CreateBucketConfiguration);
// values stay strings so keys like "0001" or "true" are not coerced into numbers or booleans.
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
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
  let doc: unknown;
  try {
    doc = parser.parse(text, true);
  } catch {
    throw new S3Error("MalformedXML");
  }
  const node = (doc as Record<string, unknown> | undefined)?.[root];
  if (node === undefined || node === null || typeof node !== "object") {
    throw new S3Error("MalformedXML", `The XML body must have a <${root}> root element.`);
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
