import type { Logger } from "@podkit/core";
import { Counter, Gauge, type Registry } from "prom-client";
import { type AnyCollector, BudgetExceeded, type MetricSink } from "./collectors/collector.js";

type Listener = (reading: unknown) => void;

interface Entry {
  collector: AnyCollector;
  sink: MetricSink<unknown>;
  latest: unknown;
  hasReading: boolean;
  running: Promise<void> | null;
  listeners: Listener[];
}

/**
 * Runs each collector on its own interval, never two runs of one collector at once, each run
 * inside its budget (past it the run's signal aborts and the run counts as failed). Owns the
 * per-collector success and duration gauges, like node_exporter's `node_scrape_collector_*`.
 */
export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<AbortController>();
  private readonly success: Gauge;
  private readonly duration: Gauge;
  private readonly lastSuccess: Gauge;
  private readonly runs: Counter;
  private stopped = false;

  constructor(
    collectors: readonly AnyCollector[],
    registry: Registry,
    private readonly logger: Logger,
  ) {
    const gauge = (name: string, help: string) =>
      new Gauge({ name, help, labelNames: ["collector"], registers: [registry] });
    this.success = gauge("podkit_agent_collector_success", "1 if the collector's last run succeeded.");
    this.duration = gauge("podkit_agent_collector_duration_seconds", "Duration of the collector's last run.");
    this.lastSuccess = gauge(
      "podkit_agent_collector_last_success_timestamp_seconds",
      "When the collector last succeeded.",
    );
    this.runs = new Counter({
      name: "podkit_agent_collector_runs_total",
      help: "Finished runs of the collector; 0 while it has not been read yet (the agent is starting).",
      labelNames: ["collector"],
      registers: [registry],
    });
    for (const collector of collectors) {
      this.runs.inc({ collector: collector.name }, 0);
      this.entries.set(collector.name, {
        collector,
        sink: collector.metrics(registry),
        latest: null,
        hasReading: false,
        running: null,
        listeners: [],
      });
    }
  }

  /**
   * Call `listener` with every reading of collector `name` (also the stand-in for a failed run);
   * nothing happens for a collector that does not run here (no kernel log to follow).
   */
  on<R>(name: string, listener: (reading: R) => void): void {
    this.entries.get(name)?.listeners.push(listener as Listener);
  }

  /** The latest reading of collector `name`, or null before its first run. */
  latest<R>(name: string): R | null {
    const e = this.entries.get(name);
    return e?.hasReading ? (e.latest as R) : null;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Run collector `name` now; joins a run already in progress rather than starting a second. */
  run(name: string): Promise<void> {
    const e = this.entry(name);
    if (this.stopped) return Promise.resolve();
    e.running ??= this.runEntry(e).finally(() => {
      e.running = null;
    });
    return e.running;
  }

  /** Run every collector once, one after another in registration order (the agent's first collection). */
  async runAll(): Promise<void> {
    for (const name of this.entries.keys()) if (!this.stopped) await this.run(name);
  }

  /** Start following (logs) and polling every collector on its interval. */
  start(): void {
    if (this.stopped) return;
    for (const e of this.entries.values()) {
      e.collector.start?.();
      const t = setInterval(() => {
        if (e.running) return; // never overlap a slow run with the next one
        this.run(e.collector.name).catch((err: Error) =>
          this.logger.error({ err: err.message }, "agent loop error"),
        );
      }, e.collector.intervalMs);
      this.timers.push(t);
    }
  }

  /** Stop the timers, abort runs in progress (their commands are killed) and stop following. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const c of this.inFlight) c.abort(new Error("the agent is stopping"));
    for (const e of this.entries.values()) e.collector.stop?.();
  }

  /** Resolves once the runs in progress have ended (after `stop`, their commands are being killed). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.entries.values()].map((e) => e.running));
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new Error(`no collector named ${name}`);
    return e;
  }

  private async runEntry(e: Entry): Promise<void> {
    const { collector } = e;
    const started = process.hrtime.bigint();
    const abort = new AbortController();
    this.inFlight.add(abort);
    let reading: unknown;
    let ok: boolean;
    let timer: NodeJS.Timeout | undefined;
    try {
      reading = await Promise.race([
        collector.collect({ signal: abort.signal }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new BudgetExceeded(
              `${collector.name} collector did not finish within ${collector.budgetMs} ms`,
            );
            abort.abort(err);
            reject(err);
          }, collector.budgetMs);
        }),
      ]);
      ok = collector.succeeded(reading);
    } catch (err) {
      ok = false;
      if (!collector.failed) {
        this.logger.warn({ err: (err as Error).message }, `${collector.name} collector failed`);
        this.record(collector.name, false, started);
        return;
      }
      reading = collector.failed(err as Error, e.hasReading ? e.latest : null);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(abort);
    }
    this.record(collector.name, ok, started);
    if (this.stopped) return; // a run cut short by stop() is no reading
    e.latest = reading;
    e.hasReading = true;
    e.sink.update(reading);
    for (const l of e.listeners) l(reading);
  }

  private record(name: string, ok: boolean, started: bigint): void {
    this.runs.inc({ collector: name });
    this.success.set({ collector: name }, ok ? 1 : 0);
    this.duration.set({ collector: name }, Number(process.hrtime.bigint() - started) / 1e9);
    if (ok) this.lastSuccess.set({ collector: name }, Date.now() / 1000);
  }
}
