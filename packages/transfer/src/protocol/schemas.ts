import { z } from "zod";

/** One entry of `FilesToTransfer` / `EmptyFoldersToTransfer` (croc's `FileInfo`, short JSON tags). */
export const FileInfoSchema = z.object({
  n: z.string().optional().default(""),
  fr: z.string().optional().default(""),
  fs: z.string().optional(),
  h: z.string().optional(),
  s: z.number().int().nonnegative().optional().default(0),
  m: z.string().optional(),
  c: z.boolean().optional(),
  e: z.boolean().optional(),
  sy: z.string().optional(),
  md: z.number().int().nonnegative().optional(),
  tf: z.boolean().optional(),
  ig: z.boolean().optional(),
});
export type FileInfo = z.output<typeof FileInfoSchema>;

/** croc's `SenderInfo`, carried in the `fileinfo` message. Go field names, `null` for empty lists. */
export const SenderInfoSchema = z.object({
  FilesToTransfer: z.array(FileInfoSchema).nullable().optional(),
  EmptyFoldersToTransfer: z.array(FileInfoSchema).nullable().optional(),
  TotalNumberFolders: z.number().int().optional(),
  MachineID: z.string().optional(),
  Ask: z.boolean().optional(),
  SendingText: z.boolean().optional(),
  NoCompress: z.boolean().optional(),
  HashAlgorithm: z.string().optional(),
  ReconnectVersion: z.number().int().optional(),
  NextReconnectRoom: z.string().optional(),
  Features: z.array(z.string()).nullable().optional(),
});
export type SenderInfo = z.output<typeof SenderInfoSchema>;

/** croc's `RemoteFileRequest`, carried in `recipientready`. */
export const RemoteFileRequestSchema = z.object({
  CurrentFileChunkRanges: z.array(z.number().int().nonnegative()).nullable().optional(),
  FilesToTransferCurrentNum: z.number().int().nonnegative(),
  MachineID: z.string().optional(),
  ReconnectVersion: z.number().int().optional(),
});

/** Go's zero time, always present on empty-folder entries. */
export const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

/** Mode bits as Go's `os.FileMode`: permission bits plus 1<<27 for symlinks (dirs are 1<<31). */
export const GO_MODE_SYMLINK = 2 ** 27;
