import { z } from "zod";

/** Peer protocol generations of croc-compatible transfers (see the transfer package). */
export const TransferProtocolSchema = z.enum(["auto", "a", "b"]);
export type TransferProtocol = z.infer<typeof TransferProtocolSchema>;

/**
 * Progress events of `podkit send` / `podkit receive` (and the `@podkit/transfer` library), one JSON
 * object per line with `--json`. Sizes are bytes; `rate` is bytes per second.
 */
export const TransferEventSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("code"), code: z.string(), receiveCommand: z.string(), relay: z.string() }),
  /** The side is in its relay room(s) waiting for the other; `seconds`: how long before giving up. */
  z.object({ type: z.literal("waiting"), relay: z.string(), seconds: z.number().optional() }),
  z.object({ type: z.literal("connected"), generation: z.enum(["a", "b"]), peer: z.string() }),
  z.object({
    type: z.literal("offer"),
    files: z.array(z.object({ name: z.string(), size: z.number(), symlink: z.string().optional() })),
    emptyFolders: z.array(z.string()),
    totalBytes: z.number(),
  }),
  z.object({
    type: z.literal("file-start"),
    name: z.string(),
    size: z.number(),
    resumedBytes: z.number(),
  }),
  z.object({
    type: z.literal("progress"),
    name: z.string(),
    bytes: z.number(),
    size: z.number(),
    rate: z.number(),
  }),
  z.object({ type: z.literal("file-done"), name: z.string(), size: z.number(), skipped: z.boolean() }),
  z.object({ type: z.literal("done"), files: z.number(), bytes: z.number(), seconds: z.number() }),
]);
export type TransferEvent = z.infer<typeof TransferEventSchema>;
