import { PodkitError } from "@podkit/core";

/** Errors a transfer can end with; `code` is stable for scripts, the message says what to do. */
export class TransferError extends PodkitError {}

export function wrongCode(side: "sender" | "receiver"): TransferError {
  const other = side === "sender" ? "receiver" : "sender";
  return new TransferError(
    "E_WRONG_CODE",
    `wrong code phrase: the ${other} used a different code (password mismatch); check the code and start both sides again`,
  );
}

export function generationC(): TransferError {
  return new TransferError(
    "E_CROC_V11",
    "the other side runs croc 11 (protocol generation C), which refuses older peers; use croc 10.7 or runpodctl there, or receive with croc 11 too",
  );
}

export function peerError(text: string): TransferError {
  return new TransferError("E_PEER", `peer error: ${text}`);
}

export function noPeer(what: string, seconds: number): TransferError {
  return new TransferError(
    "E_NO_PEER",
    `no ${what} found within ${seconds} s: check the code phrase and that both sides use the same relay`,
  );
}

export function aborted(): TransferError {
  return new TransferError("E_ABORTED", "transfer cancelled");
}

export function peerGone(who: "sender" | "receiver"): TransferError {
  return new TransferError(
    "E_PEER_GONE",
    `the ${who} disconnected before the transfer finished; run both sides again with the same code to resume`,
  );
}
