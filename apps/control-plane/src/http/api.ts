import { MachineInfoSchema, parseDuration, parseWith, ValidationError } from "@podkit/core";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { HttpServices } from "./services.js";

const isoTime = z.string().datetime({ offset: true });
const durationSchema = z.union([z.number().int().positive(), z.string().min(1)]);

const EnrollmentTokenRequest = z.object({ ttl: durationSchema.optional() }).strict();
const EnrollRequest = z.object({ enrollmentToken: z.string().min(1), machine: MachineInfoSchema });
const MaintenanceRequest = z
  .object({
    hostId: z.string().min(1),
    start: isoTime.optional(),
    duration: durationSchema,
    immediate: z.boolean().default(false),
    reason: z.string().max(500).optional(),
  })
  .strict();
const MaintenancePatch = z
  .object({
    start: isoTime.optional(),
    duration: durationSchema.optional(),
    reason: z.string().max(500).optional(),
  })
  .strict();
const RentalRequest = z.object({ hostId: z.string().min(1), renter: z.string().min(1).max(200) }).strict();

/** "4h" or milliseconds → milliseconds, with the field named in the error. */
function durationMs(value: string | number, field: string): number {
  if (typeof value === "number") return value;
  try {
    return parseDuration(value);
  } catch (err) {
    throw new ValidationError(field, [{ path: field, message: (err as Error).message }]);
  }
}

const DEFAULT_ENROLLMENT_TTL_MS = 24 * 3_600_000;

/** JSON API under /api/v1 (admin token, except the agents' own enrolment). */
// Long: one route block per endpoint, flat.
export function registerApi(app: FastifyInstance, { fleet, judge, views, ops, clock }: HttpServices): void {
  app.post("/api/v1/enrollment-tokens", async (req, reply) => {
    const body = parseWith(EnrollmentTokenRequest, req.body ?? {}, "enrolment token request");
    const ttl = body.ttl === undefined ? DEFAULT_ENROLLMENT_TTL_MS : durationMs(body.ttl, "ttl");
    return reply.code(201).send(await fleet.createEnrollmentToken(ttl));
  });

  app.post("/api/v1/agents/enroll", async (req, reply) => {
    const body = parseWith(EnrollRequest, req.body, "enrolment request");
    return reply.code(201).send(await fleet.enroll(body.enrollmentToken, body.machine));
  });

  app.get("/api/v1/hosts", async () => views.list());
  app.get<{ Params: { id: string } }>("/api/v1/hosts/:id", async (req) => {
    const { row, evaluation, history } = await judge.evaluate(req.params.id);
    return {
      ...(await views.one(row.id)),
      reliabilityWindow: evaluation.reliability,
      reliabilityHistory: history,
    };
  });
  app.get<{ Params: { id: string } }>("/api/v1/hosts/:id/reliability", async (req) => {
    const { evaluation, history } = await judge.evaluate(req.params.id);
    return { current: evaluation.reliability, history };
  });
  app.get<{ Params: { id: string }; Querystring: { since?: string } }>(
    "/api/v1/hosts/:id/samples",
    async (req) => {
      const row = await fleet.host(req.params.id);
      const since = req.query.since ? Date.parse(req.query.since) : clock() - 24 * 3_600_000;
      if (!Number.isFinite(since))
        throw new ValidationError("since", [{ path: "since", message: "not an ISO time" }]);
      const rows = await fleet.gpuSamples(row.id, since);
      return rows.map((r) => ({
        at: new Date(r.at).toISOString(),
        gpuIndex: r.gpu_index,
        temperatureCelsius: r.temperature_celsius,
        utilizationRatio: r.utilization_ratio,
        memoryUsedBytes: r.memory_used_bytes,
        powerWatts: r.power_watts,
      }));
    },
  );
  app.get<{ Querystring: { renter?: string } }>("/api/v1/pool", async (req) =>
    views.pool(req.query.renter ?? null),
  );

  app.get<{ Querystring: { host?: string; all?: string } }>("/api/v1/maintenance", async (req) =>
    ops.listMaintenance({
      host: req.query.host,
      includePast: req.query.all === "true" || req.query.all === "1",
    }),
  );
  app.post("/api/v1/maintenance", async (req, reply) => {
    const body = parseWith(MaintenanceRequest, req.body, "maintenance request");
    if (body.immediate && body.start !== undefined) {
      throw new ValidationError("maintenance request", [
        { path: "start", message: "immediate maintenance starts now; leave out start" },
      ]);
    }
    const window = await ops.scheduleMaintenance({
      host: body.hostId,
      start: body.start === undefined ? undefined : Date.parse(body.start),
      durationMs: durationMs(body.duration, "duration"),
      immediate: body.immediate,
      reason: body.reason,
    });
    return reply.code(201).send(window);
  });
  app.get<{ Params: { id: string } }>("/api/v1/maintenance/:id", async (req) =>
    ops.getMaintenance(req.params.id),
  );
  app.patch<{ Params: { id: string } }>("/api/v1/maintenance/:id", async (req) => {
    const body = parseWith(MaintenancePatch, req.body, "maintenance change");
    return ops.rescheduleMaintenance(req.params.id, {
      start: body.start === undefined ? undefined : Date.parse(body.start),
      durationMs: body.duration === undefined ? undefined : durationMs(body.duration, "duration"),
      reason: body.reason,
    });
  });
  app.delete<{ Params: { id: string } }>("/api/v1/maintenance/:id", async (req) =>
    ops.cancelMaintenance(req.params.id),
  );

  app.get<{ Querystring: { active?: string; host?: string } }>("/api/v1/rentals", async (req) =>
    ops.listRentals({
      active: req.query.active === "true" || req.query.active === "1",
      host: req.query.host,
    }),
  );
  app.post("/api/v1/rentals", async (req, reply) => {
    const body = parseWith(RentalRequest, req.body, "rental request");
    return reply.code(201).send(await ops.rent(body.hostId, body.renter));
  });
  app.delete<{ Params: { id: string } }>("/api/v1/rentals/:id", async (req) =>
    ops.endRental({ rentalId: req.params.id }),
  );

  app.get<{ Querystring: { host?: string; kind?: string; limit?: string; before?: string } }>(
    "/api/v1/events",
    async (req) => {
      const limit = req.query.limit ? Number(req.query.limit) : undefined;
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
        throw new ValidationError("limit", [{ path: "limit", message: "a positive integer" }]);
      }
      return fleet.listEvents({
        hostId: req.query.host ? (await fleet.host(req.query.host)).id : undefined,
        kind: req.query.kind,
        limit,
        before: req.query.before ? Date.parse(req.query.before) : undefined,
      });
    },
  );
}
