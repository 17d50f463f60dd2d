import type { Fleet } from "../fleet/fleet.js";
import type { Judge } from "../fleet/judge.js";
import type { Operations } from "../fleet/operations.js";
import type { FleetViews } from "../fleet/views.js";

/** What the API and the dashboard serve from; `server.ts` builds each part and hands them over. */
export interface HttpServices {
  fleet: Fleet;
  judge: Judge;
  views: FleetViews;
  ops: Operations;
  clock: () => number;
}
