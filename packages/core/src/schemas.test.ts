import { describe, expect, it } from "vitest";
import { ClusterSpecSchema } from "./cluster.js";
import { ValidationError } from "./errors/index.js";
import { MaintenanceWindowSchema } from "./maintenance.js";
import { AgentMessageSchema, ControlPlaneMessageSchema, PROTOCOL_VERSION } from "./messages.js";
import { worstHealth } from "./telemetry.js";
import { parseWith } from "./validate.js";
import { S3CredentialsFileSchema, VolumeIdSchema } from "./volume.js";

const now = "2026-11-27T08:00:00.000Z";

describe("agent message envelope", () => {
  it("accepts a well-formed heartbeat and telemetry message", () => {
    const heartbeat = {
      v: PROTOCOL_VERSION,
      id: "01JDK0000000000000000000",
      type: "heartbeat",
      sentAt: now,
      payload: {},
    };
    expect(parseWith(AgentMessageSchema, heartbeat, "agent message").type).toBe("heartbeat");
    const telemetry = {
      v: 1,
      id: "msg-00000001",
      type: "telemetry",
      sentAt: now,
      payload: {
        host: {
          at: now,
          hostname: "gpu-01",
          cpuCount: 64,
          cpuUtilizationRatio: 0.12,
          load1: 3.1,
          memoryTotalBytes: 1e12,
          memoryAvailableBytes: 8e11,
          disks: [{ mount: "/workspace", totalBytes: 1e12, usedBytes: 1e11 }],
        },
        gpus: [
          {
            index: 0,
            uuid: "GPU-1",
            name: "NVIDIA H100 80GB HBM3",
            pciBusId: "00000000:18:00.0",
            temperatureCelsius: null,
            utilizationRatio: 0.5,
            memoryUsedBytes: 1,
            memoryTotalBytes: 2,
            powerWatts: null,
          },
        ],
      },
    };
    expect(AgentMessageSchema.parse(telemetry).type).toBe("telemetry");
  });

  it("rejects an unknown protocol version with a message naming the field", () => {
    const msg = { v: 2, id: "msg-00000001", type: "heartbeat", sentAt: now, payload: {} };
    expect(() => parseWith(AgentMessageSchema, msg, "agent message")).toThrow(ValidationError);
    expect(() => parseWith(AgentMessageSchema, msg, "agent message")).toThrow(/^invalid agent message: v: /);
  });

  it("rejects unknown message types and bad timestamps", () => {
    expect(
      AgentMessageSchema.safeParse({ v: 1, id: "msg-00000001", type: "reboot", sentAt: now, payload: {} })
        .success,
    ).toBe(false);
    expect(
      AgentMessageSchema.safeParse({
        v: 1,
        id: "msg-00000001",
        type: "heartbeat",
        sentAt: "yesterday",
        payload: {},
      }).success,
    ).toBe(false);
  });

  it("requires every acknowledgement to name at least one message", () => {
    expect(
      ControlPlaneMessageSchema.safeParse({
        v: 1,
        id: "ack-00000001",
        type: "ack",
        sentAt: now,
        payload: { ids: [] },
      }).success,
    ).toBe(false);
    expect(
      ControlPlaneMessageSchema.safeParse({
        v: 1,
        id: "ack-00000001",
        type: "ack",
        sentAt: now,
        payload: { ids: ["msg-00000001"] },
      }).success,
    ).toBe(true);
  });
});

describe("specs", () => {
  it("fills cluster defaults from the minimal form", () => {
    const spec = parseWith(
      ClusterSpecSchema,
      { name: "demo", nodes: [{ host: "172.31.0.2" }] },
      "cluster.yaml",
    );
    expect(spec.primaryPort).toBe(29500);
    expect(spec.gpusPerNode).toBe("auto");
    expect(spec.network.interface).toBe("auto");
    expect(spec.ssh.user).toBe("root");
  });

  it("explains a cluster without nodes and a bad fingerprint", () => {
    expect(() => parseWith(ClusterSpecSchema, { name: "demo", nodes: [] }, "cluster.yaml")).toThrow(
      "invalid cluster.yaml: nodes: a cluster needs at least one node",
    );
    expect(() =>
      parseWith(ClusterSpecSchema, { nodes: [{ host: "a", hostKeyFingerprint: "md5:xx" }] }, "cluster.yaml"),
    ).toThrow(/nodes\.0\.hostKeyFingerprint: expected an OpenSSH fingerprint/);
  });

  it("validates volume ids as bucket names", () => {
    expect(VolumeIdSchema.safeParse("vol-123abc").success).toBe(true);
    expect(VolumeIdSchema.safeParse("Vol_Bad").success).toBe(false);
    expect(VolumeIdSchema.safeParse("ab").success).toBe(false);
  });

  it("defaults an S3 key to every volume", () => {
    const file = S3CredentialsFileSchema.parse({
      credentials: [{ accessKeyId: "AKIA1", secretAccessKey: "secret-123" }],
    });
    expect(file.credentials[0]?.volumes).toEqual(["*"]);
  });

  it("keeps maintenance windows to real timestamps", () => {
    expect(MaintenanceWindowSchema.safeParse({ id: "w1", hostId: "h1", start: now, end: now }).success).toBe(
      true,
    );
    expect(
      MaintenanceWindowSchema.safeParse({ id: "w1", hostId: "h1", start: "soon", end: now }).success,
    ).toBe(false);
  });

  it("takes the worst health state", () => {
    expect(worstHealth([])).toBe("healthy");
    expect(worstHealth(["healthy", "reset-required", "degraded"])).toBe("reset-required");
    expect(worstHealth(["failed", "reboot-required"])).toBe("failed");
  });
});
