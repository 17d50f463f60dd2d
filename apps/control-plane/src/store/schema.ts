/**
 * Table types for Kysely. One schema for SQLite and PostgreSQL, so only portable column types are
 * used: text, integer (booleans as 0/1), bigint (epoch milliseconds) and double precision.
 * JSON values are kept as text and parsed at the edge.
 */
export interface EnrollmentTokensTable {
  token_hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  host_id: string | null;
}

export interface HostsTable {
  id: string;
  hostname: string;
  token_hash: string;
  enrolled_at: number;
  machine: string;
  first_seen_at: number | null;
  last_seen_at: number | null;
  health_state: string | null;
  health: string | null;
  gpu_health: string;
  flags: string;
  listing_state: string;
  listing_reasons: string;
  listing_since: number;
  reliability: number;
  reliability_at: number | null;
  telemetry: string | null;
  telemetry_at: number | null;
  sample_at: number | null;
  link_state: string | null;
  link_since: number | null;
}

export interface MessagesTable {
  host_id: string;
  id: string;
  type: string;
  received_at: number;
}

export interface OfflinePeriodsTable {
  host_id: string;
  start_at: number;
  end_at: number;
}

export interface StateChangesTable {
  id: string;
  host_id: string;
  at: number;
  health_state: string | null;
  listing_state: string;
  listing_reasons: string;
}

export interface MaintenanceWindowsTable {
  id: string;
  host_id: string;
  start_at: number;
  end_at: number;
  immediate: number;
  cancelled: number;
  reason: string | null;
  created_at: number;
}

export interface RentalsTable {
  id: string;
  host_id: string;
  renter: string;
  started_at: number;
  ended_at: number | null;
}

export interface EventsTable {
  id: string;
  host_id: string | null;
  at: number;
  kind: string;
  message: string;
  data: string | null;
}

export interface GpuSamplesTable {
  host_id: string;
  at: number;
  gpu_index: number;
  temperature_celsius: number | null;
  utilization_ratio: number | null;
  memory_used_bytes: number | null;
  power_watts: number | null;
}

export interface Database {
  enrollment_tokens: EnrollmentTokensTable;
  hosts: HostsTable;
  messages: MessagesTable;
  offline_periods: OfflinePeriodsTable;
  state_changes: StateChangesTable;
  maintenance_windows: MaintenanceWindowsTable;
  rentals: RentalsTable;
  events: EventsTable;
  gpu_samples: GpuSamplesTable;
}
