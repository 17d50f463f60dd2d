import { getHeapStatistics } from "node:v8";
import type { V8Collector } from "@podkit/core/gc";

const MiB = 1 << 20;

/**
 * A full garbage collection when the gateway falls idle after the heap has grown a lot since the
 * last one. V8 otherwise keeps a burst's garbage (a 100,000-key listing, thousands of small
 * objects) committed until its own limit is reached, and a big upload that follows then adds its
 * buffers on top: that stacking put the gateway over 200 MB. Only between requests, at most once
 * a second, and only after `growth` bytes of new heap: a busy gateway is left to V8 alone.
 */
export class IdleHeapTrim {
  private inFlight = 0;
  private floor = 0;
  private lastAt = Number.NEGATIVE_INFINITY;
  private pending = false;
  collections = 0;

  constructor(
    private readonly collect: V8Collector | null,
    private readonly growth = 16 * MiB,
    private readonly minIntervalMs = 1000,
    private readonly usedHeap = () => getHeapStatistics().used_heap_size,
  ) {}

  requestStarted(): void {
    this.inFlight++;
  }

  requestEnded(): void {
    this.inFlight--;
    if (this.inFlight > 0 || this.pending || !this.collect) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.maybeCollect();
    }).unref();
  }

  private maybeCollect(): void {
    if (this.inFlight > 0 || !this.collect) return;
    const now = performance.now();
    if (now - this.lastAt < this.minIntervalMs) return;
    if (this.usedHeap() < this.floor + this.growth) return;
    this.collect();
    this.collections++;
    this.lastAt = now;
    this.floor = this.usedHeap();
  }
}
