/** Called after a change an agent should hear about (listing, rental, maintenance). */
export type HostChangedListener = (hostIds: string[]) => void;

/**
 * Where writers announce hosts whose state an agent should hear about, and where the agents'
 * gateway and the replicas' change feed listen. Writers know nothing of who listens.
 */
export class HostChanges {
  private readonly listeners: HostChangedListener[] = [];

  on(listener: HostChangedListener): void {
    this.listeners.push(listener);
  }

  notify(hostIds: string[]): void {
    if (hostIds.length === 0) return;
    for (const l of this.listeners) l(hostIds);
  }
}
