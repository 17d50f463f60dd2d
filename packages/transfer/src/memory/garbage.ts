import { ChunkGarbage } from "@podkit/core/gc";

/** One pacer per process: sender and receiver chunk loops all count into it. */
export const chunkGarbage = new ChunkGarbage();
