import { type Logger, PodkitError } from "@podkit/core";
import type { Registry } from "prom-client";
import type { GpuSource } from "./gpu.js";

/** A run that overran its budget (it was aborted): slow, which is not the same as failed. */
export class BudgetExceeded extends PodkitError<"E_COLLECTOR_BUDGET"> {
  constructor(message: string) {
    super("E_COLLECTOR_BUDGET", message);
  }
}

/** What a run is given: its signal aborts when the run overruns its budget or the agent stops. */
export interface CollectContext {
  signal: AbortSignal;
}

/**
 * One source of readings, the way node_exporter's collectors are shaped: a name, a schedule, a
 * budget per run, `collect` → a typed reading, and the metrics it owns. The scheduler runs it;
 * nothing else needs to know it exists unless it consumes the reading (health, reports).
 */
export interface Collector<R> {
  readonly name: string;
  /** How often it runs. */
  readonly intervalMs: number;
  /** How long one run may take; past it the run is aborted (its commands killed) and counts as failed. */
  readonly budgetMs: number;
  collect(ctx: CollectContext): Promise<R>;
  /** Whether the reading counts as a success in `podkit_agent_collector_success`. */
  succeeded(reading: R): boolean;
  /** The reading that stands for a run that threw or overran its budget; without it the last reading stays. */
  failed?(err: Error, previous: R | null): R;
  /** Registers the metrics this collector owns, in `registry`; the sink updates them from each reading. */
  metrics(registry: Registry): MetricSink<R>;
  /** For sources that are followed rather than polled (a log): start and stop following. */
  start?(): void;
  stop?(): void;
}

export interface MetricSink<R> {
  update(reading: R): void;
}

/** Collectors of any reading type, for the registry and the scheduler (method parameters are bivariant). */
export type AnyCollector = Collector<unknown>;

/** What collectors may draw on: the agent's settings and the little they need from each other. */
export interface CollectorContext {
  stateDir: string;
  bootId: string;
  logger: Logger;
  gpuSource: GpuSource;
  gpuIntervalMs?: number;
  hostIntervalMs?: number;
  /** Per command a collector runs. */
  collectorTimeoutMs?: number;
  disks?: string[];
  /** Kernel log to follow, or null for none. */
  kmsgPath: string | null;
  listedIndexes: () => number[];
  /** How long the last complete GPU reading may stand in for runs that overran their budget (default 120 s). */
  gpuStaleLimitMs?: number;
  gpuIndexByBusId: () => ReadonlyMap<string, number>;
}

/** Builds a collector from the agent's context; null where it does not apply (no kernel log to follow). */
export type CollectorFactory = (context: CollectorContext) => AnyCollector | null;
