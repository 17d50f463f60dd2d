import { z } from "zod";

/** Volume ids double as S3 bucket names, so they follow S3's bucket naming rules. */
export const VolumeIdSchema = z
  .string()
  .min(3)
  .max(63)
  .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, "volume ids are 3-63 lower-case letters, digits, dots and dashes");

export const S3CredentialSchema = z.object({
  accessKeyId: z.string().min(3).max(128),
  secretAccessKey: z.string().min(8).max(256),
  /** Volumes (buckets) this key may reach; `["*"]` means all. */
  volumes: z.array(z.string().min(1)).min(1).default(["*"]),
  description: z.string().optional(),
});
export type S3Credential = z.infer<typeof S3CredentialSchema>;

export const S3CredentialsFileSchema = z.object({
  credentials: z.array(S3CredentialSchema).min(1),
});
export type S3CredentialsFile = z.infer<typeof S3CredentialsFileSchema>;
