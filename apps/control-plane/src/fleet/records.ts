import { NotFoundError } from "@podkit/core";
import type { Kysely } from "kysely";
import { newId } from "../auth/tokens.js";
import type { Database, HostsTable } from "../store/schema.js";

/** A host by id or hostname, read through `db` (a transaction or the pool). */
export async function resolveHost(db: Kysely<Database>, idOrHostname: string): Promise<HostsTable> {
  const row =
    (await db.selectFrom("hosts").selectAll().where("id", "=", idOrHostname).executeTakeFirst()) ??
    (await db.selectFrom("hosts").selectAll().where("hostname", "=", idOrHostname).executeTakeFirst());
  if (!row)
    throw new NotFoundError(`no host "${idOrHostname}"; see \`podkit hosts list\``, { host: idOrHostname });
  return row;
}

/** Append one row to the fleet's event log (enrolments, listing changes, XIDs, maintenance…). */
export async function recordEvent(
  db: Kysely<Database>,
  at: number,
  hostId: string | null,
  kind: string,
  message: string,
  data?: unknown,
): Promise<void> {
  await db
    .insertInto("events")
    .values({
      id: newId("ev"),
      host_id: hostId,
      at,
      kind,
      message,
      data: data === undefined ? null : JSON.stringify(data),
    })
    .execute();
}
