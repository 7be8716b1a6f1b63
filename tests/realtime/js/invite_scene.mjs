// The invite scene through the official Socket.IO v4 JS client (the browser's client).
// Usage: node invite_scene.mjs '<json: {url, stream_id, tokens: {host, bob}, bob}>'
// Prints one JSON object of observations; pytest asserts on them. Exits 1 on a failure.
import { io } from "socket.io-client";

const args = JSON.parse(process.argv[2]);
const TIMEOUT = 5000;

function connect(token) {
  const socket = io(args.url, { auth: token ? { token } : {}, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(err));
  });
}

function next(socket, event, match = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} in ${TIMEOUT} ms`)), TIMEOUT);
    const handler = (data) => {
      if (!match(data)) return;
      clearTimeout(timer);
      socket.off(event, handler);
      resolve(data);
    };
    socket.on(event, handler);
  });
}

const call = (socket, event, payload) => socket.timeout(TIMEOUT).emitWithAck(event, payload);

const out = {};
const sockets = [];
try {
  const host = await connect(args.tokens.host);
  const bob = await connect(args.tokens.bob);
  const anon = await connect(null);
  sockets.push(host, bob, anon);
  const join = { stream_id: args.stream_id };
  out.joins = [await call(host, "join", join), await call(bob, "join", join), await call(anon, "join", join)]
    .map((ack) => ({ ok: ack.ok, role: ack.role, user: ack.user, status: ack.stream?.status }));

  const mentioned = next(bob, "mention");
  const chat = await call(host, "chat:send", { text: `come up @${args.bob}!` });
  out.chat = { ok: chat.ok, mentions: chat.message.mentions, text: chat.message.text };
  out.mention = (await mentioned).message.id === chat.message.id;

  const invited = next(bob, "cohost:invited");
  const invite = await call(host, "cohost:invite", { username: args.bob });
  out.invite = invite;
  out.invited = await invited;
  const changed = [host, bob, anon].map((s) => next(s, "cohost:changed"));
  out.accept = await call(bob, "cohost:respond", { invite_id: out.invited.invite_id, accept: true });
  out.changed = (await Promise.all(changed)).map((d) => d.cohost);

  out.cohost_invites = await call(bob, "cohost:invite", { username: args.bob });
  out.anon_chat = await call(anon, "chat:send", { text: "hello" });
  out.malformed = await call(host, "chat:send", "not an object");

  const removed = next(bob, "cohost:removed");
  const emptied = next(anon, "cohost:changed", (d) => d.cohost === null);
  out.remove = await call(host, "cohost:remove", {});
  out.removed = await removed;
  out.emptied = (await emptied).cohost;

  try {
    sockets.push(await connect(args.tokens.host + "x"));
    out.forged = "connected";
  } catch (err) {
    out.forged = { message: err.message, data: err.data };
  }
  out.transport = host.io.engine.transport.name;
} catch (err) {
  out.error = String(err && err.stack ? err.stack : err);
}
for (const socket of sockets) socket.disconnect();
console.log(JSON.stringify(out));
process.exit(out.error ? 1 : 0);
