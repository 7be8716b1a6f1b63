// The realtime room: one Socket.IO connection joined to one stream.
// The socket.io client is the official npm package, served by the server at /vendor/.

import { signOut } from "/static/js/api.js";
import { openSocket } from "/static/js/socket.js";

export class RealtimeError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

export class Room {
  /**
   * `onJoin(ack)` runs after every (re)join with the join acknowledgement;
   * `onConnection(state)` gets "connecting" | "connected" | "reconnecting" | "unavailable".
   * `joinExtras()` returns more fields for every `join` (e.g. the sharer's `ref`).
   */
  constructor(streamId, { onJoin, onConnection, joinExtras } = {}) {
    this.streamId = streamId;
    this.joinExtras = joinExtras || (() => ({}));
    this.onJoin = onJoin || (() => {});
    this.onConnection = onConnection || (() => {});
    this.socket = null;
    this.handlers = [];
    this.joined = null;
  }

  /** Connect (anonymous when no token) and join; resolves false if realtime is unavailable. */
  async connect(token) {
    this.onConnection("connecting");
    try {
      this.socket = await openSocket({ auth: token ? { token } : {}, reconnectionDelayMax: 4000 });
    } catch {
      this.onConnection("unavailable");
      return false;
    }
    for (const [event, handler] of this.handlers) this.socket.on(event, handler);
    this.socket.on("connect", () => this.join());
    // The token expired or was revoked (logout or password change elsewhere): the
    // server already treats us as anonymous; forget the token and start over signed out.
    this.socket.on("auth:expired", () => {
      signOut();
      location.reload();
    });
    this.socket.on("disconnect", (reason) => {
      this.onConnection("reconnecting");
      // A draining server disconnects us on purpose; the client does not retry that by
      // itself. Come back a little later, spread out, to this or another process.
      if (reason === "io server disconnect") {
        setTimeout(() => this.socket.connect(), 500 + Math.random() * 1500);
      }
    });
    this.socket.on("connect_error", () => this.onConnection("reconnecting"));
    return true;
  }

  /** Reconnect with another identity (after signing in or out). */
  reauth(token) {
    if (!this.socket) return this.connect(token);
    this.socket.auth = token ? { token } : {};
    this.socket.disconnect();
    this.socket.connect();
    return Promise.resolve(true);
  }

  async join() {
    try {
      const ack = await this.request("join", { ...this.joinExtras(), stream_id: this.streamId });
      this.joined = ack;
      this.onConnection("connected");
      this.onJoin(ack);
    } catch (error) {
      this.onConnection("reconnecting");
      console.warn("join failed", error);
    }
  }

  /** Listen to a server event (kept across reconnects). */
  on(event, handler) {
    this.handlers.push([event, handler]);
    this.socket?.on(event, handler);
    return this;
  }

  /** Emit with acknowledgement; resolves with the ack, throws RealtimeError when not ok. */
  async request(event, payload = {}) {
    if (!this.socket) throw new RealtimeError("unavailable", "Live chat is unavailable right now");
    let ack;
    try {
      ack = await this.socket.timeout(5000).emitWithAck(event, payload);
    } catch {
      throw new RealtimeError("timeout", "The server did not answer; check your connection");
    }
    if (!ack || ack.ok !== true) {
      throw new RealtimeError(ack?.error?.code || "error", ack?.error?.message || "Request failed");
    }
    return ack;
  }

  /** Emit without failing the caller when the server does not know the event. */
  async tryRequest(event, payload = {}) {
    try {
      return await this.request(event, payload);
    } catch {
      return null;
    }
  }

  get connected() {
    return Boolean(this.socket?.connected);
  }
}
