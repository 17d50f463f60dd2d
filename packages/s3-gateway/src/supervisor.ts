// Entry for the supervisor of a multi-process gateway (`s3 serve --workers N`): what that process
// needs and nothing more. The supervisor never serves a request, so it does not load the gateway
// (backend, auth, XML, checksums): tens of megabytes less resident in a process that only starts,
// restarts and stops workers and sums their metrics.
export { loadCredentials } from "./auth/credentials.js";
export { runS3Worker, type S3ClusterOptions, type S3GatewayCluster, startS3Cluster } from "./http/cluster.js";
