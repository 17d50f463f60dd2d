import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthContext } from "../auth/authenticate.js";
import type { Backend } from "../backend/types.js";
import type { S3Request } from "../http/request.js";

export interface GatewaySettings {
  region: string;
  allowBucketAdmin: boolean;
  /** A CompleteMultipartUpload running longer than this answers 200 and sends keep-alive spaces. */
  completeKeepAliveMs: number;
}

/** Everything one S3 operation handler needs. Handlers return the body bytes they sent. */
export interface OpContext {
  req: IncomingMessage;
  res: ServerResponse;
  s3: S3Request;
  auth: AuthContext;
  backend: Backend;
  settings: GatewaySettings;
  /** Bytes of request payload received (for the access log and metrics). */
  received: number;
}

export type OpHandler = (ctx: OpContext) => Promise<number>;
