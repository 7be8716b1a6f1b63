// The one place pages open their Socket.IO connection.

const CLIENT_URL = "/vendor/socket.io/socket.io.esm.min.js";

/**
 * A connection that opens straight on a websocket (no long-polling round trips before
 * the upgrade; the server reads websocket-first connections on its cheapest path) and
 * falls back to long polling where a proxy refuses websockets. Rejects when the
 * client library cannot be loaded.
 */
export async function openSocket(options = {}) {
  const { io } = await import(CLIENT_URL);
  return io({ transports: ["websocket", "polling"], tryAllTransports: true, ...options });
}
