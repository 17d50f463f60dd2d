// Public entry of @podkit/s3-gateway: an S3-compatible API over a directory of network volumes.
export { CredentialStore, loadCredentials, readCredentialsFile } from "./auth/credentials.js";
export type { Backend, ObjectInfo, ObjectMeta } from "./backend/types.js";
export { S3_ERRORS, S3Error, type S3ErrorCode } from "./errors/s3-errors.js";
export { runS3Worker, type S3ClusterOptions, type S3GatewayCluster, startS3Cluster } from "./http/cluster.js";
export {
  DEFAULT_TIMEOUTS,
  type S3Gateway,
  type S3GatewayOptions,
  startS3Gateway,
} from "./http/server.js";
