import { formatBytes } from "@podkit/core";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { secretsEqual } from "../auth/tokens.js";
import type { FleetEvent, HostView } from "../fleet/host-view.js";
import { ADMIN_COOKIE, isAdmin } from "./auth.js";
import { maintenanceCalendar } from "./calendar.js";
import { badge, esc, page, percent } from "./html.js";
import type { HttpServices } from "./services.js";
import { lineChart } from "./svg.js";

const DAY_MS = 86_400_000;

function gpuSummary(h: HostView): string {
  if (h.gpusKnown === false) return '<span class="badge degraded">GPUs unknown</span>';
  const counts = new Map<string, number>();
  for (const g of h.gpus) counts.set(g.name, (counts.get(g.name) ?? 0) + 1);
  const summary =
    [...counts].map(([name, n]) => `${n} × ${esc(name)}`).join(", ") || '<span class="muted">none</span>';
  // A replayed capture must never pass for real hardware, not even at a glance.
  return h.machine.simulated ? `${summary} <span class="badge degraded">simulated</span>` : summary;
}

function hostsTable(hosts: readonly HostView[]): string {
  const rows = hosts.map(
    (
      h,
    ) => `<tr data-host="${esc(h.id)}"><td><a href="/hosts/${encodeURIComponent(h.id)}">${esc(h.id)}</a></td>
<td class="gpus">${gpuSummary(h)}</td><td>${h.gpusKnown === false ? "unknown" : h.gpus.length}</td><td class="health">${badge(h.health)}</td>
<td class="listing">${badge(h.listing)} <span class="muted">${esc(h.listingReasons.join(", "))}</span></td>
<td class="reliability">${percent(h.reliability)}</td><td>${h.online ? "online" : '<span class="muted">offline</span>'}</td>
<td>${h.rented ? esc(h.renter) : ""}</td>
<td>${h.maintenance.next ? `${esc(h.maintenance.next.start.slice(0, 16).replace("T", " "))} (${esc(h.maintenance.next.status)})` : ""}${h.maintenance.excessive ? ' <span class="badge failed">excessive maintenance</span>' : ""}</td></tr>`,
  );
  return `<table id="hosts"><thead><tr><th>Host</th><th>GPU model</th><th>GPUs</th><th>Health</th><th>Listing</th><th>Reliability (30 d)</th><th>Agent</th><th>Rented by</th><th>Next maintenance</th></tr></thead>
<tbody>${rows.join("") || '<tr><td colspan="9" class="muted">No hosts yet: create an enrolment token with <code>podkit hosts enroll</code> and start an agent with it.</td></tr>'}</tbody></table>`;
}

function eventsTable(events: readonly FleetEvent[], id: string): string {
  const rows = events.map(
    (e) =>
      `<tr><td>${esc(e.at.replace("T", " ").slice(0, 19))}</td><td>${esc(e.kind)}</td><td>${esc(e.message)}</td></tr>`,
  );
  return `<table id="${id}"><thead><tr><th>Time (UTC)</th><th>Kind</th><th>What</th></tr></thead><tbody>${rows.join("") || '<tr><td colspan="3" class="muted">none</td></tr>'}</tbody></table>`;
}

/** Server-rendered dashboard: the same admin token as the API, kept in an HttpOnly cookie after /login. */
// Long: one route block per page, flat.
export function registerDashboard(
  app: FastifyInstance,
  { fleet, judge, views, ops, clock }: HttpServices,
  adminToken: string,
): void {
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const guard = (req: FastifyRequest, reply: FastifyReply): boolean => {
    if (isAdmin(req, adminToken)) return true;
    void reply.redirect(`/login?next=${encodeURIComponent(req.url)}`);
    return false;
  };

  app.get<{ Querystring: { next?: string; failed?: string } }>("/login", async (req, reply) => {
    const next = req.query.next?.startsWith("/") && !req.query.next.startsWith("//") ? req.query.next : "/";
    return reply.type("text/html").send(
      page(
        "Sign in",
        `<h2>Sign in</h2>${req.query.failed ? '<p class="badge failed">wrong admin token</p>' : ""}
<form method="post" action="/login"><input type="hidden" name="next" value="${esc(next)}">
<label>Admin token <input type="password" name="token" autocomplete="off" size="50"></label> <button type="submit">Sign in</button></form>
<p class="muted">The token is in PODKIT_ADMIN_TOKEN or in the file the control plane printed at start.</p>`,
      ),
    );
  });
  app.post<{ Body: { token?: string; next?: string } }>("/login", async (req, reply) => {
    const next = req.body?.next?.startsWith("/") && !req.body.next.startsWith("//") ? req.body.next : "/";
    if (!req.body?.token || !secretsEqual(req.body.token, adminToken)) {
      return reply.redirect(`/login?failed=1&next=${encodeURIComponent(next)}`);
    }
    return reply
      .header(
        "set-cookie",
        `${ADMIN_COOKIE}=${encodeURIComponent(req.body.token)}; HttpOnly; SameSite=Strict; Path=/`,
      )
      .redirect(next);
  });

  app.get("/", async (req, reply) => {
    if (!guard(req, reply)) return reply;
    const hosts = await views.list();
    const count = (pred: (h: HostView) => boolean) => hosts.filter(pred).length;
    const cards = [
      ["hosts", hosts.length],
      ["listed", count((h) => h.listing === "listed")],
      ["unlisted", count((h) => h.listing === "unlisted")],
      ["removed", count((h) => h.listing === "removed")],
      ["online", count((h) => h.online)],
      ["GPUs", hosts.reduce((n, h) => n + h.gpus.length, 0)],
      ["rented", count((h) => h.rented)],
    ]
      .map(([label, n]) => `<div class="card"><b>${n}</b>${label}</div>`)
      .join("");
    return reply
      .type("text/html")
      .send(page("Hosts", `<h2>Hosts</h2><div class="cards">${cards}</div>${hostsTable(hosts)}`));
  });

  app.get<{ Params: { id: string } }>("/hosts/:id", async (req, reply) => {
    if (!guard(req, reply)) return reply;
    const now = clock();
    const { row, evaluation, history } = await judge.evaluate(req.params.id);
    const host = await views.one(row.id);
    const since = now - DAY_MS;
    const samples = await fleet.gpuSamples(row.id, since);
    // A host younger than a day gets a chart of its life so far, not a day of blank space.
    const chartFrom = Math.max(since, samples[0]?.at ?? now - 3_600_000);
    const series = (field: "temperature_celsius" | "utilization_ratio", scale: number) =>
      host.gpus.map((g) => ({
        name: `GPU ${g.index}`,
        points: samples
          .filter((s) => s.gpu_index === g.index)
          .map((s) => ({ t: s.at, v: s[field] === null ? null : s[field] * scale })),
      }));
    const windows = await ops.listMaintenance({ host: row.id, includePast: true });
    const xids = await fleet.listEvents({ hostId: row.id, kind: "xid", limit: 100 });
    const events = await fleet.listEvents({ hostId: row.id, limit: 30 });
    const gpuRows = host.gpus
      .map(
        (
          g,
        ) => `<tr><td>${g.index}</td><td>${esc(g.name)}</td><td>${esc(g.pciBusId)}</td><td>${g.memoryTotalBytes === null ? "–" : esc(formatBytes(g.memoryTotalBytes))}</td>
<td>${badge(g.health)}</td><td>${g.temperatureCelsius ?? "–"} °C</td><td>${g.utilizationRatio === null ? "–" : percent(g.utilizationRatio, 0)}</td></tr>`,
      )
      .join("");
    const r = evaluation.reliability;
    const windowRows = windows
      .map(
        (w) =>
          `<tr><td>${esc(w.id)}</td><td>${esc(w.start)}</td><td>${esc(w.end)}</td><td>${esc(w.status)}${w.immediate ? " (immediate)" : ""}</td><td>${esc(w.reason ?? "")}</td></tr>`,
      )
      .join("");
    const body = `<h2>${esc(host.id)} <span class="muted">${esc(host.hostname)}</span></h2>
<div class="cards"><div class="card">health ${badge(host.health)}</div><div class="card">listing ${badge(host.listing)} <span class="muted">${esc(host.listingReasons.join(", "))}</span></div>
<div class="card"><b id="reliability">${percent(r.reliability)}</b>reliability, 30 days (${r.downtimeMinutes} min down, ${r.maintenanceMinutes} min maintenance)</div>
<div class="card">${host.online ? "online" : "offline"}, last seen ${esc(host.lastSeenAt ?? "never")}</div>
<div class="card">${host.rented ? `rented by ${esc(host.renter)}` : "not rented"}</div>
<div class="card">maintenance ${percent(host.maintenance.shareLast30Days, 1)} of 30 days${host.maintenance.excessive ? ' <span class="badge failed">excessive</span>' : ""}</div></div>
<p class="muted">Driver ${esc(host.machine.driverVersion ?? "?")}, CUDA ${esc(host.machine.cudaVersion ?? "?")}, ${host.machine.cpuCount} CPUs ${esc(host.machine.cpuModel ?? "")}, ${esc(formatBytes(host.machine.memoryTotalBytes))} RAM${host.machine.simulated ? " — simulated GPUs (recorded nvidia-smi)" : ""}</p>
<h3>GPUs</h3><table id="gpus"><thead><tr><th>#</th><th>Model</th><th>PCI</th><th>Memory</th><th>Health</th><th>Temperature</th><th>Utilisation</th></tr></thead><tbody>${gpuRows}</tbody></table>
<h3>GPU temperature and utilisation (last 24 hours)</h3>
<div id="charts">${lineChart({ title: "GPU temperature (°C)", series: series("temperature_celsius", 1), from: chartFrom, to: now, yMin: 0, yMax: 100 })}
${lineChart({ title: "GPU utilisation (%)", series: series("utilization_ratio", 100), from: chartFrom, to: now, yMin: 0, yMax: 100 })}</div>
<h3>Reliability over 30 days</h3>
<div id="reliability-chart">${lineChart({
      title: "Reliability (rolling 30 days, %)",
      series: [
        {
          name: "reliability",
          points: history.map((p) => ({ t: Date.parse(p.at), v: p.reliability * 100 })),
        },
      ],
      from: now - 29 * DAY_MS,
      to: now,
      yMin: 96,
      yMax: 100,
      yFormat: (v) => v.toFixed(1),
      threshold: { value: 98, label: "98% minimum" },
    })}</div>
<h3>Maintenance</h3>${maintenanceCalendar(windows, now)}
<table id="maintenance"><thead><tr><th>ID</th><th>Start</th><th>End</th><th>Status</th><th>Reason</th></tr></thead><tbody>${windowRows || '<tr><td colspan="5" class="muted">none</td></tr>'}</tbody></table>
<h3>XID history</h3>${eventsTable(xids, "xids")}
<h3>Recent events</h3>${eventsTable(events, "events")}`;
    return reply.type("text/html").send(page(host.id, body));
  });

  app.get("/maintenance", async (req, reply) => {
    if (!guard(req, reply)) return reply;
    const windows = await ops.listMaintenance({ includePast: true });
    const rows = windows
      .map(
        (w) =>
          `<tr><td>${esc(w.id)}</td><td><a href="/hosts/${encodeURIComponent(w.hostId)}">${esc(w.hostId)}</a></td><td>${esc(w.start)}</td><td>${esc(w.end)}</td><td>${esc(w.status)}${w.immediate ? " (immediate)" : ""}</td><td>${esc(w.reason ?? "")}</td></tr>`,
      )
      .join("");
    return reply.type("text/html").send(
      page(
        "Maintenance",
        `<h2>Maintenance</h2>${maintenanceCalendar(windows, clock())}
<table id="maintenance"><thead><tr><th>ID</th><th>Host</th><th>Start</th><th>End</th><th>Status</th><th>Reason</th></tr></thead><tbody>${rows || '<tr><td colspan="6" class="muted">none</td></tr>'}</tbody></table>`,
      ),
    );
  });

  app.get("/events", async (req, reply) => {
    if (!guard(req, reply)) return reply;
    return reply
      .type("text/html")
      .send(
        page("Events", `<h2>Events</h2>${eventsTable(await fleet.listEvents({ limit: 200 }), "events")}`),
      );
  });
}
