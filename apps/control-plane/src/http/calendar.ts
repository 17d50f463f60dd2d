import { MAINTENANCE_RULES, type MaintenanceWindow } from "@podkit/core";
import { esc } from "./html.js";

const DAY_MS = 86_400_000;

/**
 * A five-week calendar (Monday first, from the week before today): days with maintenance are
 * orange, the 4 days before a window (machine unlisted) pale yellow.
 */
export function maintenanceCalendar(windows: readonly MaintenanceWindow[], now: number, weeks = 5): string {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const weekday = (new Date(today).getUTCDay() + 6) % 7;
  const first = today - weekday * DAY_MS - 7 * DAY_MS;
  const live = windows.filter((w) => w.status !== "cancelled");
  const cells: string[] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map(
    (d) => `<div class="hd">${d}</div>`,
  );
  for (let k = 0; k < weeks * 7; k++) {
    const dayStart = first + k * DAY_MS;
    const dayEnd = dayStart + DAY_MS;
    const inWindow = live.filter((w) => Date.parse(w.start) < dayEnd && Date.parse(w.end) > dayStart);
    const soon = live.some(
      (w) =>
        Date.parse(w.start) - MAINTENANCE_RULES.unlistBeforeMs < dayEnd && Date.parse(w.start) > dayStart,
    );
    const classes = [inWindow.length ? "mw" : soon ? "soon" : "", dayStart === today ? "today" : ""].filter(
      Boolean,
    );
    const label = new Date(dayStart).toISOString().slice(5, 10);
    const detail = inWindow
      .map((w) => `${w.hostId} ${w.start.slice(11, 16)}–${w.end.slice(11, 16)}`)
      .map(esc)
      .join("<br>");
    cells.push(
      `<div class="${classes.join(" ")}" data-day="${new Date(dayStart).toISOString().slice(0, 10)}"${inWindow.length ? ` title="${esc(inWindow.map((w) => w.id).join(" "))}"` : ""}>${label}${detail ? `<br>${detail}` : ""}</div>`,
    );
  }
  return `<div class="cal" aria-label="maintenance calendar">${cells.join("")}</div>`;
}
