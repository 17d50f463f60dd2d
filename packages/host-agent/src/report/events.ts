import { type AgentEvent, type AgentMessage, PROTOCOL_VERSION } from "@podkit/core";
import { newMessageId } from "./ids.js";
import type { Outbox } from "./outbox.js";

/** Put an event into the durable outbox as a versioned envelope with a fresh id. */
export function enqueueEvent(outbox: Outbox, event: AgentEvent, idPrefix = "evt"): void {
  const message = {
    v: PROTOCOL_VERSION,
    id: newMessageId(idPrefix),
    type: "event",
    sentAt: new Date().toISOString(),
    payload: event,
  } as AgentMessage;
  outbox.enqueue(message);
}
