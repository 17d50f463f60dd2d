import type { FastifyReply, FastifyRequest } from "fastify";
import { bearerToken, secretsEqual } from "../auth/tokens.js";

export const ADMIN_COOKIE = "podkit_admin";

/** The admin token from `Authorization: Bearer`, or the dashboard's session cookie. */
export function presentedAdminToken(req: FastifyRequest): string | null {
  const bearer = bearerToken(req.headers.authorization);
  if (bearer) return bearer;
  const cookies = req.headers.cookie ?? "";
  for (const part of cookies.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === ADMIN_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return null;
}

export function isAdmin(req: FastifyRequest, adminToken: string): boolean {
  const presented = presentedAdminToken(req);
  return presented !== null && secretsEqual(presented, adminToken);
}

/** 401 for the API: no token at all, or one that is not this control plane's (a replica with its own?). */
export function refuseApi(reply: FastifyReply, presented: boolean): FastifyReply {
  const message = presented
    ? "wrong admin token: it is not this control plane's (replicas of one database must share one: --admin-token-file or PODKIT_ADMIN_TOKEN on each)"
    : "admin token required: pass --admin-token or set PODKIT_ADMIN_TOKEN (Authorization: Bearer pka_…)";
  return reply
    .code(401)
    .header("www-authenticate", 'Bearer realm="podkit"')
    .send({ error: { code: "E_AUTH", message } });
}
