import { relayIndexOf } from "./code/code.js";
import { parseRelayAddress, type RelayAddress } from "./relay/client.js";
import { DEFAULT_RELAY_PASSWORD } from "./relay/handshake.js";
import { TransferError } from "./session/errors.js";

export interface RelayProfile {
  relay: RelayAddress;
  password: string;
}

/** croc's public relay (croc ≥ 9 default). */
export const CROC_PUBLIC_RELAY: RelayProfile = {
  relay: { host: "croc.schollz.com", port: 9009 },
  password: DEFAULT_RELAY_PASSWORD,
};

/**
 * runpodctl's relay list (its `relays.json`, relay0 … relay20, one shared published password). A
 * runpodctl code ends in `-<index>` into this list. Addresses have no port, so the control port is 9009.
 */
export const RUNPODCTL_RELAYS: readonly RelayProfile[] = Array.from({ length: 21 }, (_, i) => ({
  relay: { host: `relay${i}.runpod.net`, port: 9009 },
  password: "Op7X0378LX7ZB602&qIX#@qHU",
}));

export interface RelayChoice {
  /** Relay for generation A rooms and for B rooms (they differ only for runpodctl codes). */
  a: RelayProfile;
  b: RelayProfile;
}

/**
 * Picks relays: an explicit `--relay` always wins; otherwise a runpodctl-style code's index selects
 * runpodctl's relay for generation A, and croc's public relay serves generation B.
 */
export function chooseRelays(code: string, explicit?: { relay?: string; pass?: string }): RelayChoice {
  if (explicit?.relay) {
    const profile = {
      relay: parseRelayAddress(explicit.relay),
      password: explicit.pass ?? DEFAULT_RELAY_PASSWORD,
    };
    return { a: profile, b: profile };
  }
  const b = explicit?.pass ? { ...CROC_PUBLIC_RELAY, password: explicit.pass } : CROC_PUBLIC_RELAY;
  const index = relayIndexOf(code);
  if (index === null) return { a: b, b };
  const runpod = RUNPODCTL_RELAYS[index];
  if (!runpod) {
    throw new TransferError(
      "E_RELAY_INDEX",
      `code ends in relay index ${index}, but runpodctl's relay list has ${RUNPODCTL_RELAYS.length} relays (0–${RUNPODCTL_RELAYS.length - 1}); check the code or pass --relay`,
    );
  }
  return { a: explicit?.pass ? { ...runpod, password: explicit.pass } : runpod, b };
}
