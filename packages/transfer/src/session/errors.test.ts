import { isPodkitError } from "@podkit/core";
import { describe, expect, it } from "vitest";
import { DecryptError } from "../crypto/aead.js";
import { FramingError } from "../framing/frame.js";
import { ConnectionClosedError, ReadTimeoutError } from "../framing/framed-socket.js";
import { PakeError } from "../pake/pake.js";
import { ProtocolError } from "../protocol/messages.js";
import { UnsafeOfferError } from "../receiver/safety.js";
import { aborted, generationC, noPeer, peerError, peerGone, wrongCode } from "./errors.js";

describe("transfer errors", () => {
  it.each([
    [new PakeError("PAKE incomplete"), "E_PAKE", 1],
    [new ConnectionClosedError("connection closed"), "E_CLOSED", 1],
    [new ReadTimeoutError("no answer within 5 s"), "E_READ_TIMEOUT", 1],
    [new FramingError("not a croc frame"), "E_FRAMING", 1],
    [new ProtocolError("peer sent a malformed control message"), "E_PROTOCOL", 1],
    [new DecryptError("message authentication failed"), "E_DECRYPT", 1],
    [wrongCode("sender"), "E_WRONG_CODE", 5],
    [generationC(), "E_CROC_V11", 2],
    [noPeer("receiver", 30), "E_NO_PEER", 4],
    [aborted(), "E_ABORTED", 130],
    [peerError("unexpected message"), "E_PEER", 1],
    [peerError("refusing files: declined"), "E_REFUSED", 1],
    [peerGone("sender"), "E_PEER_GONE", 1],
    [new UnsafeOfferError("an absolute path"), "E_UNSAFE_METADATA", 2],
  ])("%s is a PodkitError with code %s and exit status %i", (err, code, exit) => {
    expect(isPodkitError(err)).toBe(true);
    expect(err).toMatchObject({ code, exitCode: exit });
    expect(err.name).toBe(err.constructor.name);
  });
});
