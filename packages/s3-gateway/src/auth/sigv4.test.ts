import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { AwsChunkedDecoder } from "./chunked.js";
import {
  canonicalQuery,
  canonicalRequest,
  chunkStringToSign,
  parseAuthorizationHeader,
  parseQuery,
  sha256Hex,
  signHex,
  signingKey,
  stringToSign,
  uriEncode,
} from "./sigv4.js";

// The worked examples of the S3 SigV4 documentation ("Examples of signature calculations").
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const DATE = "20130524T000000Z";
const SCOPE = "20130524/us-east-1/s3/aws4_request";
const KEY = signingKey(SECRET, "20130524", "us-east-1", "s3");

describe("SigV4", () => {
  it("signs the documented GET Object example", () => {
    const headers: Record<string, string> = {
      host: "examplebucket.s3.amazonaws.com",
      range: "bytes=0-9",
      "x-amz-content-sha256": sha256Hex(""),
      "x-amz-date": DATE,
    };
    const text = canonicalRequest({
      method: "GET",
      canonicalUri: "/test.txt",
      canonicalQueryString: "",
      headers: (n) => (headers[n] === undefined ? undefined : [headers[n]!]),
      signedHeaders: ["host", "range", "x-amz-content-sha256", "x-amz-date"],
      payloadHash: sha256Hex(""),
    });
    expect(signHex(KEY, stringToSign(DATE, SCOPE, text))).toBe(
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });

  it("signs the documented GET Bucket lifecycle and list examples (query canonicalisation)", () => {
    const headers: Record<string, string> = {
      host: "examplebucket.s3.amazonaws.com",
      "x-amz-content-sha256": sha256Hex(""),
      "x-amz-date": DATE,
    };
    const sign = (rawQuery: string) =>
      signHex(
        KEY,
        stringToSign(
          DATE,
          SCOPE,
          canonicalRequest({
            method: "GET",
            canonicalUri: "/",
            canonicalQueryString: canonicalQuery(parseQuery(rawQuery)),
            headers: (n) => (headers[n] === undefined ? undefined : [headers[n]!]),
            signedHeaders: ["host", "x-amz-content-sha256", "x-amz-date"],
            payloadHash: sha256Hex(""),
          }),
        ),
      );
    expect(sign("lifecycle")).toBe("fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    expect(sign("max-keys=2&prefix=J")).toBe(
      "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    );
  });

  it("signs the documented aws-chunked upload: seed and chunk signatures", async () => {
    const seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    const chunk1 = Buffer.alloc(65536, "a");
    const chunk2 = Buffer.alloc(1024, "a");
    const sig1 = signHex(KEY, chunkStringToSign(DATE, SCOPE, seed, sha256Hex(chunk1)));
    expect(sig1).toBe("ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
    const sig2 = signHex(KEY, chunkStringToSign(DATE, SCOPE, sig1, sha256Hex(chunk2)));
    expect(sig2).toBe("0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
    const sig3 = signHex(KEY, chunkStringToSign(DATE, SCOPE, sig2, sha256Hex("")));
    expect(sig3).toBe("b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");

    const body = Buffer.concat([
      Buffer.from(`10000;chunk-signature=${sig1}\r\n`),
      chunk1,
      Buffer.from(`\r\n400;chunk-signature=${sig2}\r\n`),
      chunk2,
      Buffer.from(`\r\n0;chunk-signature=${sig3}\r\n\r\n`),
    ]);
    const decode = async (bytes: Buffer, splitEvery: number) => {
      const pieces: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += splitEvery) pieces.push(bytes.subarray(i, i + splitEvery));
      const decoder = new AwsChunkedDecoder({
        trailer: false,
        decodedLength: 66560,
        signing: { signingKey: KEY, amzDate: DATE, scope: SCOPE, seedSignature: seed },
      });
      const out: Buffer[] = [];
      for await (const c of Readable.from(pieces).pipe(decoder)) out.push(c as Buffer);
      return Buffer.concat(out);
    };
    // Network reads split the framing anywhere: the decoder must not care.
    expect((await decode(body, 7)).equals(Buffer.concat([chunk1, chunk2]))).toBe(true);
    expect((await decode(body, 100_000)).length).toBe(66560);
    const tampered = Buffer.from(body);
    tampered[200] = "b".charCodeAt(0);
    await expect(decode(tampered, 4096)).rejects.toMatchObject({ code: "SignatureDoesNotMatch" });
    await expect(decode(body.subarray(0, 60_000), 4096)).rejects.toMatchObject({ code: "IncompleteBody" });
  });

  it.each([
    ["plain", "plain"],
    ["a b", "a%20b"],
    ["a+b/c", "a%2Bb%2Fc"],
    ["ü~_.-", "%C3%BC~_.-"],
    ["#%", "%23%25"],
  ])("uri-encodes %j as %j", (input, expected) => {
    expect(uriEncode(input, false)).toBe(expected);
  });

  it("parses an Authorization header and refuses malformed ones", () => {
    const parsed = parseAuthorizationHeader(
      `AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${"a".repeat(64)}`,
    );
    expect(parsed?.credential).toEqual({
      accessKeyId: "AKID",
      date: "20130524",
      region: "us-east-1",
      service: "s3",
    });
    expect(parsed?.signedHeaders).toEqual(["host", "x-amz-date"]);
    expect(parseAuthorizationHeader("AWS4-HMAC-SHA256 Credential=AKID/x, Signature=zz")).toBeUndefined();
    expect(parseAuthorizationHeader("Basic abc")).toBeUndefined();
  });
});
