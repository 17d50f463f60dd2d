// The benchmark's baseline: a WebSocket server in its own process that acknowledges each message at
// once without storing anything, so the figures separate the store's cost from JSON over loopback.
import { randomUUID } from "node:crypto";
import { WebSocketServer } from "ws";

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
wss.on("listening", () => console.log(`listening on http://127.0.0.1:${wss.address().port}`));
wss.on("connection", (ws) =>
  ws.on("message", (data) => {
    const { id } = JSON.parse(String(data));
    ws.send(
      JSON.stringify({
        v: 1,
        id: randomUUID(),
        type: "ack",
        sentAt: new Date().toISOString(),
        payload: { ids: [id] },
      }),
    );
  }),
);
