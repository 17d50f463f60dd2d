import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { s3ErrorFor } from "../errors/s3-errors.js";
import { chunkStringToSign, signaturesEqual, signHex, trailerStringToSign } from "./sigv4.js";

/** What an aws-chunked decoder checks chunk signatures against (absent for unsigned streaming). */
export interface ChunkSigning {
  signingKey: Buffer;
  amzDate: string;
  scope: string;
  seedSignature: string;
}

export interface ChunkedDecoderOptions {
  signing?: ChunkSigning;
  /** Whether trailing headers (x-amz-checksum-*) follow the last chunk. */
  trailer: boolean;
  /** x-amz-decoded-content-length, when sent: the decoded size must match it. */
  decodedLength?: number;
}

const MAX_LINE = 4096;
type State = "header" | "data" | "data-crlf" | "trailer" | "done";

/**
 * Decodes an `aws-chunked` body (`<hex-size>[;chunk-signature=<sig>]\r\n<data>\r\n … 0…\r\n
 * [trailers]\r\n`), verifying every chunk signature and the trailer signature when signed. A bad
 * signature or a truncated body fails the stream, so the upload never becomes visible.
 * Trailing headers are collected in `trailers` before the stream ends.
 */
export class AwsChunkedDecoder extends Transform {
  readonly trailers = new Map<string, string>();
  private state: State = "header";
  private line = Buffer.alloc(0);
  private remaining = 0;
  private chunkHash: Hash | undefined;
  private chunkSignature = "";
  private previousSignature: string;
  private decoded = 0;

  constructor(private readonly options: ChunkedDecoderOptions) {
    super();
    this.previousSignature = options.signing?.seedSignature ?? "";
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    // Some clients end the body right after the final chunk, without the empty trailer line.
    if (this.state === "trailer" && this.line.length === 0) {
      try {
        this.finishTrailers();
      } catch (err) {
        callback(err as Error);
        return;
      }
    }
    if (this.state !== "done") {
      callback(s3ErrorFor("chunked-no-final-chunk"));
      return;
    }
    if (this.options.decodedLength !== undefined && this.decoded !== this.options.decodedLength) {
      callback(
        s3ErrorFor("chunked-length-mismatch", {
          decoded: this.decoded,
          decodedLength: this.options.decodedLength,
        }),
      );
      return;
    }
    callback();
  }

  private consume(input: Buffer): void {
    let buf = input;
    while (buf.length > 0) {
      if (this.state === "data") {
        const take = Math.min(this.remaining, buf.length);
        const piece = buf.subarray(0, take);
        this.chunkHash?.update(piece);
        this.push(piece);
        this.decoded += take;
        this.remaining -= take;
        buf = buf.subarray(take);
        if (this.remaining === 0) this.state = "data-crlf";
        continue;
      }
      if (this.state === "done") return; // anything after the final CRLF is ignored, as S3 does
      const nl = buf.indexOf(10);
      if (nl < 0) {
        this.appendLine(buf);
        return;
      }
      this.appendLine(buf.subarray(0, nl + 1));
      buf = buf.subarray(nl + 1);
      const text = this.line.toString("latin1").replace(/\r?\n$/, "");
      this.line = Buffer.alloc(0);
      this.onLine(text);
    }
  }

  private appendLine(piece: Buffer): void {
    this.line = this.line.length === 0 ? Buffer.from(piece) : Buffer.concat([this.line, piece]);
    if (this.line.length > MAX_LINE) throw s3ErrorFor("chunked-line-too-long");
  }

  private onLine(text: string): void {
    switch (this.state) {
      case "data-crlf":
        if (text !== "") throw s3ErrorFor("chunked-missing-crlf");
        this.verifyChunk();
        this.state = "header";
        return;
      case "header":
        this.onChunkHeader(text);
        return;
      case "trailer":
        this.onTrailerLine(text);
        return;
      default:
        return;
    }
  }

  private onChunkHeader(text: string): void {
    const [sizeHex, ...extensions] = text.split(";");
    if (!sizeHex || !/^[0-9a-fA-F]{1,16}$/.test(sizeHex)) {
      throw s3ErrorFor("chunked-bad-header");
    }
    const size = Number.parseInt(sizeHex, 16);
    this.chunkSignature = "";
    for (const ext of extensions) {
      const [name, value] = ext.split("=");
      if (name?.trim() === "chunk-signature") this.chunkSignature = (value ?? "").trim();
    }
    if (this.options.signing && !this.chunkSignature) {
      throw s3ErrorFor("chunked-signature-missing");
    }
    this.chunkHash = this.options.signing ? createHash("sha256") : undefined;
    if (size > 0) {
      this.remaining = size;
      this.state = "data";
      return;
    }
    this.verifyChunk();
    // Without trailers the final chunk is followed by one empty line; with them, by header lines.
    this.state = "trailer";
  }

  private verifyChunk(): void {
    const signing = this.options.signing;
    if (!signing) return;
    const digest = this.chunkHash?.digest("hex") ?? "";
    const expected = signHex(
      signing.signingKey,
      chunkStringToSign(signing.amzDate, signing.scope, this.previousSignature, digest),
    );
    if (!signaturesEqual(expected, this.chunkSignature)) {
      throw s3ErrorFor("chunked-signature-mismatch");
    }
    this.previousSignature = this.chunkSignature;
  }

  private onTrailerLine(text: string): void {
    if (text === "") {
      this.finishTrailers();
      return;
    }
    const colon = text.indexOf(":");
    if (colon < 0) throw s3ErrorFor("chunked-bad-trailer");
    this.trailers.set(text.slice(0, colon).trim().toLowerCase(), text.slice(colon + 1).trim());
  }

  private finishTrailers(): void {
    const signing = this.options.signing;
    const given = this.trailers.get("x-amz-trailer-signature");
    this.trailers.delete("x-amz-trailer-signature");
    if (signing && this.options.trailer) {
      if (!given) throw s3ErrorFor("trailer-signature-missing");
      const text = [...this.trailers].map(([name, value]) => `${name}:${value}\n`).join("");
      const expected = signHex(
        signing.signingKey,
        trailerStringToSign(signing.amzDate, signing.scope, this.previousSignature, text),
      );
      if (!signaturesEqual(expected, given)) {
        throw s3ErrorFor("trailer-signature-mismatch");
      }
    }
    this.state = "done";
  }
}
