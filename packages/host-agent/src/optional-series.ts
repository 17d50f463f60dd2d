import { Counter, Gauge, type Registry } from "prom-client";

/**
 * A metric without labels that has no series until its value is known (prom-client shows an
 * unlabelled metric as 0 from the start, and a 0 would be a made-up value; for a counter read from
 * /proc, a 0 followed by the real count would look like a huge increase): registered on the first
 * `set`, removed again when the value is unknown.
 */
export class OptionalSeries {
  private readonly metric: Gauge | Counter;
  private registered = false;

  constructor(
    private readonly registry: Registry,
    private readonly config: { name: string; help: string; type?: "gauge" | "counter" },
  ) {
    const { name, help } = config;
    this.metric =
      config.type === "counter"
        ? new Counter({ name, help, registers: [] })
        : new Gauge({ name, help, registers: [] });
  }

  /** The current value; for a counter, the running count kept elsewhere (e.g. since boot). */
  set(value: number | null | undefined): void {
    if (typeof value !== "number") {
      this.clear();
      return;
    }
    if (this.metric instanceof Counter) {
      this.metric.reset();
      this.metric.inc(value);
    } else this.metric.set(value);
    if (!this.registered) this.registry.registerMetric(this.metric);
    this.registered = true;
  }

  clear(): void {
    if (this.registered) this.registry.removeSingleMetric(this.config.name);
    this.registered = false;
  }
}
