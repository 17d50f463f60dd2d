import type { ObjectMeta, PartInfo, UploadInfo } from "../types.js";

/** A multipart upload's record on the volume (multipart.ts writes it, assemble.ts completes it). */
export interface StoredUpload {
  key: string;
  initiated: string;
  meta: ObjectMeta;
  checksumAlgorithm?: UploadInfo["checksumAlgorithm"];
  checksumType?: UploadInfo["checksumType"];
}

/** One uploaded part's record. */
export type StoredPart = Omit<PartInfo, "lastModified" | "partNumber"> & {
  file: string;
  lastModified: string;
};
