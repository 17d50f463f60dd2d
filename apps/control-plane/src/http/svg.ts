import { esc } from "./html.js";

export interface Series {
  name: string;
  points: ReadonlyArray<{ t: number; v: number | null }>;
}

const COLORS = ["#3a6df0", "#e4572e", "#17a398", "#f3a712", "#8e44ad", "#29335c", "#a8c686", "#d7263d"];

export interface LineChartOptions {
  title: string;
  series: readonly Series[];
  from: number;
  to: number;
  yMin: number;
  yMax: number;
  yFormat?: (v: number) => string;
  width?: number;
  height?: number;
  /** Horizontal reference line (e.g. the 98% minimum). */
  threshold?: { value: number; label: string };
}

/** A server-rendered line chart: no script, no CDN; gaps (null values) break the line. */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 220;
  const pad = { left: 52, right: 12, top: 24, bottom: 28 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const fmt = o.yFormat ?? ((v: number) => String(Math.round(v)));
  const x = (t: number) => pad.left + ((t - o.from) / Math.max(1, o.to - o.from)) * plotW;
  const y = (v: number) => pad.top + (1 - (v - o.yMin) / Math.max(1e-9, o.yMax - o.yMin)) * plotH;
  const parts: string[] = [];
  parts.push(`<text x="${pad.left}" y="16" font-size="13" font-weight="600">${esc(o.title)}</text>`);
  for (let k = 0; k <= 4; k++) {
    const v = o.yMin + ((o.yMax - o.yMin) * k) / 4;
    parts.push(
      `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eceff3"/>`,
      `<text x="${pad.left - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="10" text-anchor="end" fill="#6b7280">${esc(fmt(v))}</text>`,
    );
  }
  const ticks: Array<[number, string]> = [
    [o.from, "start"],
    [(o.from + o.to) / 2, "middle"],
    [o.to, "end"],
  ];
  for (const [t, anchor] of ticks) {
    const label = new Date(t).toISOString().slice(5, 19).replace("T", " ");
    parts.push(
      `<text x="${x(t).toFixed(1)}" y="${height - 8}" font-size="10" text-anchor="${anchor}" fill="#6b7280">${label}</text>`,
    );
  }
  if (o.threshold) {
    const ty = y(o.threshold.value).toFixed(1);
    parts.push(
      `<line x1="${pad.left}" x2="${width - pad.right}" y1="${ty}" y2="${ty}" stroke="#d7263d" stroke-dasharray="4 3"/>`,
      `<text x="${width - pad.right}" y="${Number(ty) - 3}" font-size="10" text-anchor="end" fill="#d7263d">${esc(o.threshold.label)}</text>`,
    );
  }
  o.series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length];
    let d = "";
    let pen = false;
    for (const p of s.points) {
      if (p.v === null) {
        pen = false;
        continue;
      }
      const clamped = Math.min(o.yMax, Math.max(o.yMin, p.v));
      d += `${pen ? "L" : "M"}${x(p.t).toFixed(1)},${y(clamped).toFixed(1)}`;
      pen = true;
    }
    if (d)
      parts.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"><title>${esc(s.name)}</title></path>`,
      );
    parts.push(
      `<rect x="${pad.left + 8 + k * 80}" y="${pad.top + 2}" width="10" height="10" fill="${color}"/>`,
      `<text x="${pad.left + 22 + k * 80}" y="${pad.top + 11}" font-size="11">${esc(s.name)}</text>`,
    );
  });
  if (o.series.every((s) => s.points.every((p) => p.v === null))) {
    parts.push(
      `<text x="${pad.left + plotW / 2}" y="${pad.top + plotH / 2}" text-anchor="middle" fill="#6b7280">no samples yet</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(o.title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}
