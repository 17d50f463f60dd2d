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

/**
 * What a receiver sends when it refuses an offer. croc sends the bare prefix; Podkit adds why after a
 * colon, which croc and runpodctl senders print as they are (`peer error: refusing files: …`).
 */
export const REFUSING = "refusing files";
export const REFUSALS = {
  declined: `${REFUSING}: declined by the receiver`,
  exists: `${REFUSING}: the receiver already has some of these files with other content (it replaces them with a y at its prompt or --overwrite)`,
  unsafe: `${REFUSING}: unsafe file list (absolute paths, .. or links leading out of the folder)`,
} as const;

export function peerError(text: string): TransferError {
  if (text === REFUSING || text.startsWith(`${REFUSING}:`)) return peerRefused(text);
  return new TransferError("E_PEER", `peer error: ${text}`);
}

/** The sender's view of a refusal: that the receiver refused, why when it said so, and what to do. */
function peerRefused(text: string): TransferError {
  const why =
    text.slice(REFUSING.length).replace(/^:\s*/, "") ||
    "declined, or it already has some of these files with other content";
  return new TransferError(
    "E_REFUSED",
    `the receiver refused the files (${why}); nothing was sent. Send again once the receiver accepts (a y at its prompt, or receive --yes)`,
  );
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
