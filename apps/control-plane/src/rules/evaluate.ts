import type { HealthState, ReliabilityWindow } from "@podkit/core";
import type { Interval } from "./intervals.js";
import { decideListing, type ListingDecision } from "./listing.js";
import {
  isExcessiveMaintenance,
  maintenanceIntervals,
  maintenanceShare,
  type StoredWindow,
} from "./maintenance.js";
import { computeReliability, reliabilityHistory, type StateChange } from "./reliability.js";

/** Everything the rules need to judge one host at one moment, loaded from the store. */
export interface HostFacts {
  firstSeenAt: number | null;
  lastSeenAt: number | null;
  health: HealthState | null;
  flags: string[];
  windows: StoredWindow[];
  /** Closed offline periods; the open one is derived from `lastSeenAt`. */
  offline: Interval[];
  changes: StateChange[];
}

export interface EvaluationSettings {
  /** No message for longer than this and the host is offline (downtime starts at its last message). */
  offlineAfterMs: number;
  /** Share of the last 30 days in maintenance above which it is reported as excessive. */
  maxMaintenanceShare: number;
}

export interface HostEvaluation {
  online: boolean;
  reliability: ReliabilityWindow;
  listing: ListingDecision;
  maintenanceShare: number;
  excessiveMaintenance: boolean;
}

export function isOnline(lastSeenAt: number | null, now: number, offlineAfterMs: number): boolean {
  return lastSeenAt !== null && now - lastSeenAt <= offlineAfterMs;
}

function reliabilityInput(facts: HostFacts, now: number, settings: EvaluationSettings) {
  const online = isOnline(facts.lastSeenAt, now, settings.offlineAfterMs);
  const offline = [...facts.offline];
  if (!online && facts.lastSeenAt !== null) offline.push({ start: facts.lastSeenAt, end: now });
  return {
    now,
    // A host never seen has had no chance to be up yet: nothing counts before its first message.
    trackedSince: facts.firstSeenAt ?? now,
    offline,
    changes: facts.changes,
    maintenance: maintenanceIntervals(facts.windows),
  };
}

export function evaluateHost(facts: HostFacts, now: number, settings: EvaluationSettings): HostEvaluation {
  const online = isOnline(facts.lastSeenAt, now, settings.offlineAfterMs);
  const reliability = computeReliability(reliabilityInput(facts, now, settings));
  const share = maintenanceShare(facts.windows, now);
  return {
    online,
    reliability,
    listing: decideListing({
      now,
      online,
      health: facts.health,
      flags: facts.flags,
      windows: facts.windows,
      reliability: reliability.reliability,
    }),
    maintenanceShare: share,
    excessiveMaintenance: isExcessiveMaintenance(share, settings.maxMaintenanceShare),
  };
}

export function hostReliabilityHistory(
  facts: HostFacts,
  now: number,
  settings: EvaluationSettings,
  days = 30,
) {
  return reliabilityHistory(reliabilityInput(facts, now, settings), days);
}
