import { describe, expect, it } from "vitest";
import { decodeReferences, parseXmlBody, textOf, type XmlNode } from "./xml.js";

describe("XML request bodies", () => {
  it.each([
    ["&#34;abc&#34;", '"abc"'],
    ["it&#39;s", "it's"],
    ["&#x22;&#0065;", '"A'],
    ["&amp;&lt;&gt;&quot;&apos;", "&<>\"'"],
    ["&#65;&#x1F600;", "A😀"],
    ["&#9;&#10;&#13;", "\t\n\r"],
    ["&amp;#34;", "&#34;"],
    ["plain", "plain"],
  ])("decodes %s", (raw, decoded) => {
    expect(decodeReferences(raw)).toBe(decoded);
  });

  it.each([
    "&#0;",
    "&#x0;",
    "&#xD800;",
    "&#55296;",
    "&#xFFFE;",
    "&#x110000;",
    "&#1114112;",
    "&nbsp;",
    "&bogus;",
    "a & b",
    "&#;",
    "&#x;",
    "&#-1;",
    "&#8",
    "&#X27;",
  ])("refuses %s with MalformedXML", (raw) => {
    expect(() => parseXmlBody(`<Delete><Object><Key>${raw}</Key></Object></Delete>`, "Delete")).toThrow(
      expect.objectContaining({ code: "MalformedXML" }),
    );
  });

  it("decodes a Go-encoded CompleteMultipartUpload and keeps CDATA literal", () => {
    const doc = parseXmlBody(
      '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><PartNumber>1</PartNumber><ETag>&#34;0123&#34;</ETag></Part><Part><PartNumber>2</PartNumber><ETag><![CDATA["&#34;x"]]></ETag></Part></CompleteMultipartUpload>',
      "CompleteMultipartUpload",
    );
    const parts = doc.Part as XmlNode[];
    expect(textOf(parts[0], "ETag")).toBe('"0123"');
    expect(textOf(parts[1], "ETag")).toBe('"&#34;x"');
  });

  it("refuses a DOCTYPE (entity declarations)", () => {
    expect(() =>
      parseXmlBody(
        '<!DOCTYPE d [<!ENTITY e "x">]><Delete><Object><Key>&e;</Key></Object></Delete>',
        "Delete",
      ),
    ).toThrow(expect.objectContaining({ code: "MalformedXML" }));
  });
});
