import { z } from "zod";
import { ListingSchema, MaintenanceWindowSchema } from "./maintenance.js";
import {
  GpuSampleSchema,
  HealthVerdictSchema,
  HostSampleSchema,
  MachineInfoSchema,
  XidEventSchema,
} from "./telemetry.js";

/**
 * The agent ↔ control-plane protocol: JSON text frames over WebSocket, each one envelope.
 * `v` is the protocol version; a receiver rejects versions it does not know with a reason.
 * `id` is chosen by the sender and is idempotent: the control plane stores a message once
 * and acknowledges every copy it receives.
 */
export const PROTOCOL_VERSION = 1 as const;

const isoTime = z.string().datetime({ offset: true });
const messageId = z.string().min(8).max(128);

const envelope = <T extends string, P extends z.ZodType>(type: T, payload: P) =>
  z.object({
    v: z.literal(PROTOCOL_VERSION),
    id: messageId,
    type: z.literal(type),
    sentAt: isoTime,
    payload,
  });

export const RegisterMessageSchema = envelope("register", MachineInfoSchema);
export const TelemetryMessageSchema = envelope(
  "telemetry",
  z.object({ host: HostSampleSchema, gpus: z.array(GpuSampleSchema) }),
);
export const HealthMessageSchema = envelope(
  "health",
  z.object({
    machine: HealthVerdictSchema,
    gpus: z.array(z.object({ index: z.number().int().nonnegative(), verdict: HealthVerdictSchema })),
  }),
);
export const AgentEventSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("xid"), xid: XidEventSchema }),
  z.object({
    kind: z.literal("gpu-lost"),
    pciBusId: z.string().nullable(),
    gpuIndex: z.number().int().nullable(),
    evidence: z.string(),
  }),
  z.object({
    kind: z.literal("burn-test"),
    phase: z.enum(["started", "passed", "failed"]),
    summary: z.string().optional(),
    report: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({ kind: z.literal("listing-request"), listed: z.boolean(), reason: z.string() }),
  z.object({ kind: z.literal("notice"), message: z.string() }),
]);
export type AgentEvent = z.infer<typeof AgentEventSchema>;
export const EventMessageSchema = envelope("event", AgentEventSchema);
export const HeartbeatMessageSchema = envelope(
  "heartbeat",
  z.object({ uptimeSeconds: z.number().optional() }),
);

export const AgentMessageSchema = z.discriminatedUnion("type", [
  RegisterMessageSchema,
  TelemetryMessageSchema,
  HealthMessageSchema,
  EventMessageSchema,
  HeartbeatMessageSchema,
]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;
export type AgentMessageType = AgentMessage["type"];

/** Control plane → agent. */
export const AckMessageSchema = envelope("ack", z.object({ ids: z.array(messageId).min(1) }));
/**
 * Why a message was not stored, and what the agent does about it:
 * - `retry-later`: the control plane could not take it now (storage unavailable, overloaded,
 *   shutting down). The agent keeps it in its outbox and sends it again, in order, after a back-off
 *   (at least `retryAfterMs` when given).
 * - `rejected`: it can never be accepted (not JSON, unknown protocol version, fails the schema,
 *   not allowed). The agent sets it aside (outbox/rejected), counts and logs it.
 */
export const NACK_KINDS = ["retry-later", "rejected"] as const;
export type NackKind = (typeof NACK_KINDS)[number];
/** Stable codes under each kind (the reason is free text for people). */
export const NACK_CODES = {
  STORAGE_UNAVAILABLE: "retry-later",
  STORE_FAILED: "retry-later",
  OVERLOADED: "retry-later",
  SHUTTING_DOWN: "retry-later",
  NOT_JSON: "rejected",
  BINARY_FRAME: "rejected",
  UNSUPPORTED_VERSION: "rejected",
  INVALID_MESSAGE: "rejected",
  FORBIDDEN: "rejected",
} as const satisfies Record<string, NackKind>;
export type NackCode = keyof typeof NACK_CODES;
export const NackMessageSchema = envelope(
  "nack",
  z.object({
    id: messageId.nullable(),
    // Absent only from control planes older than the kinds: treated as retry-later, since
    // keeping a message costs a resend while dropping one loses a fact.
    kind: z.enum(NACK_KINDS).default("retry-later"),
    code: z.string().optional(),
    reason: z.string(),
    retryAfterMs: z.number().int().nonnegative().optional(),
  }),
);
export const HostStateMessageSchema = envelope(
  "host-state",
  z.object({
    hostId: z.string(),
    rented: z.boolean(),
    listing: ListingSchema,
    maintenanceWindows: z.array(MaintenanceWindowSchema),
  }),
);
export const ControlPlaneMessageSchema = z.discriminatedUnion("type", [
  AckMessageSchema,
  NackMessageSchema,
  HostStateMessageSchema,
]);
export type ControlPlaneMessage = z.infer<typeof ControlPlaneMessageSchema>;
