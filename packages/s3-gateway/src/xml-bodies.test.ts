import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { signedRequest, useHarness } from "./testing/harness.js";

const h = useHarness();

describe("request bodies encoded as Go's XML encoder writes them", () => {
  it("DeleteObjects with <Key>it&#39;s</Key> deletes the object it's", async () => {
    await h.client.send(new PutObjectCommand({ Bucket: "vol-a", Key: "it's", Body: "quote" }));
    await h.client.send(new PutObjectCommand({ Bucket: "vol-a", Key: 'say "hi" & <go>', Body: "more" }));
    const body =
      '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>it&#39;s</Key></Object>' +
      "<Object><Key>say &#34;hi&#34; &amp; &lt;go&gt;</Key></Object></Delete>";
    const res = await signedRequest(h.gateway.endpoint, "POST", "/vol-a?delete=", { body });
    expect(res.status).toBe(200);
    expect(res.text).toContain("<Key>it&apos;s</Key>");
    expect(existsSync(join(h.root, "vol-a", "it's"))).toBe(false);
    expect(existsSync(join(h.root, "vol-a", 'say "hi" & <go>'))).toBe(false);
  });

  it("DeleteObjects naming a forbidden code point is MalformedXML and deletes nothing", async () => {
    await h.client.send(new PutObjectCommand({ Bucket: "vol-a", Key: "keep.txt", Body: "k" }));
    const body = "<Delete><Object><Key>keep.txt</Key></Object><Object><Key>bad&#0;</Key></Object></Delete>";
    const res = await signedRequest(h.gateway.endpoint, "POST", "/vol-a?delete=", { body });
    expect(res.status).toBe(400);
    expect(res.text).toContain("<Code>MalformedXML</Code>");
    expect(existsSync(join(h.root, "vol-a", "keep.txt"))).toBe(true);
  });

  it("CompleteMultipartUpload with &#34;-quoted ETags completes", async () => {
    const key = "go/complete.bin";
    const { UploadId } = await h.client.send(new CreateMultipartUploadCommand({ Bucket: "vol-b", Key: key }));
    const data = randomBytes(1000);
    const part = await h.client.send(
      new UploadPartCommand({ Bucket: "vol-b", Key: key, UploadId, PartNumber: 1, Body: data }),
    );
    const etag = part.ETag!.replaceAll('"', "");
    const body =
      '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Part><PartNumber>1</PartNumber><ETag>&#34;${etag}&#34;</ETag></Part></CompleteMultipartUpload>`;
    const res = await signedRequest(h.gateway.endpoint, "POST", `/vol-b/${key}?uploadId=${UploadId}`, {
      body,
    });
    expect(res.text).toContain("<CompleteMultipartUploadResult");
    expect(res.status).toBe(200);
    const got = await h.client.send(new GetObjectCommand({ Bucket: "vol-b", Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
  });
});
