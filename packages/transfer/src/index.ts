// Public entry of @podkit/transfer: croc/runpodctl-compatible send, receive and relay.
export { type Generation, generateCode, relayIndexOf, roomPlan, roomPlanA, roomPlanB } from "./code/code.js";
export { mnemonicodeWords } from "./code/mnemonicode.js";
export { type ReceiveOffer, type ReceiveOptions, type ReceiveResult, receive } from "./receiver/receiver.js";
export { UnsafeOfferError, validateOffer } from "./receiver/safety.js";
export {
  formatRelayAddress,
  joinRelayRoom,
  parseRelayAddress,
  pingRelay,
  type RelayAddress,
} from "./relay/client.js";
export { DEFAULT_RELAY_PASSWORD, DEFAULT_RELAY_PORTS } from "./relay/handshake.js";
export {
  DEFAULT_RELAY_LIMITS,
  type RelayEvent,
  type RelayHandle,
  type RelayLimits,
  type RelayOptions,
  startRelay,
} from "./relay/server.js";
export { CROC_PUBLIC_RELAY, chooseRelays, RUNPODCTL_RELAYS } from "./relays.js";
export { type SendOptions, type SendResult, send } from "./sender/sender.js";
export { TransferError } from "./session/errors.js";
