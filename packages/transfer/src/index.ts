// Public entry of @podkit/transfer: croc/runpodctl-compatible send, receive and relay.
export {
  type Generation,
  generateCode,
  relayIndexOf,
  roomC,
  roomPlan,
  roomPlanA,
  roomPlanB,
} from "./code/code.js";
export { mnemonicodeWords } from "./code/mnemonicode.js";
// Protocol building blocks, for tools and tests that need to speak croc at a lower level
// (a hand-made peer, a protocol probe). Ordinary use needs only send/receive/startRelay.
export { deriveKey, open, seal } from "./crypto/aead.js";
export { CHUNK_BYTES, encodeChunk, offsetsToRanges, rangesToOffsets } from "./crypto/chunks.js";
export { compress, decompress } from "./crypto/compress.js";
export { symlinkHash, xxhashBytes, xxhashFile } from "./crypto/hash.js";
export { encodeFrame, FrameDecoder } from "./framing/frame.js";
export { FramedSocket } from "./framing/framed-socket.js";
export { Pake } from "./pake/pake.js";
export { decodeMessage, encodeMessage, type Message } from "./protocol/messages.js";
export type { FileInfo, SenderInfo } from "./protocol/schemas.js";
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
