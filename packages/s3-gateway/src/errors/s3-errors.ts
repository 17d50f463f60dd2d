import { S3_REASONS, type S3Reason } from "./reasons.js";
import { S3_ERRORS, S3Error, type S3ErrorCode } from "./wire.js";

export { S3_REASONS, type S3Reason } from "./reasons.js";
export { isS3Error, S3_ERRORS, S3Error, type S3ErrorCode } from "./wire.js";

type Extra = Record<string, string>;
type Entry<R extends S3Reason> = (typeof S3_REASONS)[R];
/** The values a reason's message shows, if it shows any. */
type ParamsOf<R extends S3Reason> = Entry<R> extends { message: (p: infer P) => string } ? P : undefined;
/** The reasons whose message shows no values (every reason a file-system error maps to). */
export type PlainReason = { [R in S3Reason]: ParamsOf<R> extends undefined ? R : never }[S3Reason];
/** After the reason: its message's values (when it has some), then extra XML elements. */
type ReasonArgs<R extends S3Reason> =
  ParamsOf<R> extends undefined ? [extra?: Extra] : [params: ParamsOf<R>, extra?: Extra];

/**
 * The S3 error a reason stands for; a templated message takes its values next, and `extra` adds
 * elements (`Key`, …) to the XML body. The only way gateway code makes an S3 error.
 */
export function s3ErrorFor<R extends S3Reason>(reason: R, ...args: ReasonArgs<R>): S3Error {
  const entry: { code: S3ErrorCode; message?: string | ((p: never) => string) } = S3_REASONS[reason];
  const templated = typeof entry.message === "function";
  const extra = (templated ? args[1] : args[0]) as Extra | undefined;
  // ReasonArgs ties args[0] to this reason's template parameters.
  const message = typeof entry.message === "function" ? entry.message(args[0] as never) : entry.message;
  return new S3Error(entry.code, message ?? S3_ERRORS[entry.code].message, extra ?? {});
}

/** The reason behind each file-system error code (`errno`) a request can meet. */
const FS_REASONS: Readonly<Partial<Record<string, PlainReason>>> = {
  ENOENT: "key-not-found",
  ENAMETOOLONG: "key-segment-too-long",
  ENOTDIR: "parent-is-file",
  EISDIR: "directory-in-the-way",
  ENOTEMPTY: "directory-in-the-way",
  EEXIST: "directory-in-the-way",
  ENOSPC: "volume-full",
  EDQUOT: "volume-full",
  EACCES: "not-permitted",
  EPERM: "not-permitted",
  EROFS: "not-permitted",
};

/** Why a file-system call failed; any code the table does not know is `unexpected`. */
export function fsReason(err: unknown): PlainReason {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (
    (code !== undefined && Object.hasOwn(FS_REASONS, code) ? FS_REASONS[code] : undefined) ?? "unexpected"
  );
}

/**
 * File-system errors a request can meet, mapped to S3 errors through their reasons. Anything
 * unknown stays an InternalError (logged with its stack by the HTTP layer) — never a crash.
 */
export function s3ErrorFromFs(err: unknown, what: { key?: string } = {}): S3Error {
  if (err instanceof S3Error) return err;
  const reason = fsReason(err);
  return s3ErrorFor(reason, reason === "unexpected" || what.key === undefined ? {} : { Key: what.key });
}
