/** Half-open time intervals [start, end) in epoch milliseconds, and the set algebra reliability needs. */
export interface Interval {
  start: number;
  end: number;
}

/** Sorted, non-overlapping, non-empty intervals covering the same time as `intervals`. */
export function unionIntervals(intervals: Iterable<Interval>): Interval[] {
  const sorted = [...intervals].filter((i) => i.end > i.start).sort((a, b) => a.start - b.start);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else out.push({ start: i.start, end: i.end });
  }
  return out;
}

/** The parts of `intervals` inside `[from, to)`. */
export function clipIntervals(intervals: Iterable<Interval>, from: number, to: number): Interval[] {
  const out: Interval[] = [];
  for (const i of intervals) {
    const start = Math.max(i.start, from);
    const end = Math.min(i.end, to);
    if (end > start) out.push({ start, end });
  }
  return out;
}

/** Time in `a` that is not in `b`. */
export function subtractIntervals(a: Iterable<Interval>, b: Iterable<Interval>): Interval[] {
  const holes = unionIntervals(b);
  const out: Interval[] = [];
  for (const i of unionIntervals(a)) {
    let cursor = i.start;
    for (const h of holes) {
      if (h.end <= cursor || h.start >= i.end) continue;
      if (h.start > cursor) out.push({ start: cursor, end: h.start });
      cursor = Math.max(cursor, h.end);
      if (cursor >= i.end) break;
    }
    if (cursor < i.end) out.push({ start: cursor, end: i.end });
  }
  return out;
}

export function totalMs(intervals: Iterable<Interval>): number {
  let sum = 0;
  for (const i of unionIntervals(intervals)) sum += i.end - i.start;
  return sum;
}

/**
 * Intervals during which a step function is "bad", given its change points in time order.
 * Each change holds from its `at` until the next change (the last one until `until`).
 */
export function intervalsWhere<T extends { at: number }>(
  changes: readonly T[],
  isBad: (change: T) => boolean,
  until: number,
): Interval[] {
  const out: Interval[] = [];
  for (let k = 0; k < changes.length; k++) {
    const change = changes[k]!;
    if (!isBad(change)) continue;
    const end = k + 1 < changes.length ? changes[k + 1]!.at : until;
    if (end > change.at) out.push({ start: change.at, end });
  }
  return unionIntervals(out);
}
