import { MNEMONICODE_WORDS } from "./wordlist.js";

const BASE = 1626;

/**
 * croc's mnemonicode encoding of exactly 4 bytes: read as a little-endian uint32 and written as
 * three base-1626 digits, least significant first.
 */
export function mnemonicodeWords(bytes: Uint8Array): [string, string, string] {
  if (bytes.length !== 4) throw new RangeError(`mnemonicode needs exactly 4 bytes, got ${bytes.length}`);
  const x = Buffer.from(bytes).readUInt32LE(0);
  const word = (n: number): string => MNEMONICODE_WORDS[n % BASE] as string;
  return [word(x), word(Math.floor(x / BASE)), word(Math.floor(x / (BASE * BASE)))];
}
