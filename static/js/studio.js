// Host studio: preview, go live (WHIP), program monitor (WHEP mix-minus), chat, cohost seat.

import { allListings, api, currentUser, signIn, signOut, streamIdFromPath } from "/static/js/api.js";
import { CLOSED, ChatPanel } from "/static/js/chat.js";
import { timeLeft } from "/static/js/clock.js";
import { Camera } from "/static/js/devices.js";
import { Backoff, play, publish } from "/static/js/media.js";
import { OutputsPanel } from "/static/js/outputs.js";
import { Room } from "/static/js/room.js";
import { ShowTools } from "/static/js/studio_tools.js";
import {
  AuctionPanel, CodesPanel, GiveawayForm, GiveawayPanel, applySellingAck, followSelling,
  listingActions,
} from "/static/js/selling.js";
import {
  $, LiveBadge, ListingsPanel, authForm, confirmDialog, formatPrice, h, plural, setChip, setText, toast,
} from "/static/js/ui.js";

const streamId = streamIdFromPath();
const badge = new LiveBadge($("#badge"));
let me = currentUser();
let stream = null;
let whip = null;
let monitor = null;
// Whether the server sees our pictures (its `stage:media` reports); a studio whose
// media stopped arriving republishes by itself (new WHIP session, same seat).
let hostOnAir = false;
const republishing = new Backoff(() => {
  if (!hostOnAir || whip?.pc.connectionState !== "connected") republish();
});
const replaying = new Backoff(() => startMonitor().catch(() => replaying.schedule()));
const muted = new Set();
// Cohost seat as the host sees it: none | pending | declined | expired | seated
const seat = { state: "none", username: null, inviteId: null, media: null };

const camera = new Camera(
  {
    video: $("#preview"),
    cameraSelect: $("#camera-select"),
    micSelect: $("#mic-select"),
    micButton: $("#mic-toggle"),
    camButton: $("#cam-toggle"),
  },
  { onTrack: (track) => whip?.replaceTrack(track) },
);

const room = new Room(streamId, {
  onJoin: (ack) => {
    document.body.dataset.joined = "true"; // (tests wait on it)
    chat.setAvailable(true);
    chat.setMessages(ack.chat);
    applySellingAck(ack, selling);
    if (ack.listings) listings.setAll(ack.listings);
    // The join carries the newest listings only; fetch the rest when there are more.
    if (ack.listings_more) allListings(streamId).then((all) => listings.setAll(all)).catch(() => {});
    if (ack.stream) applyStream(ack.stream);
    if (ack.cohost !== undefined && ack.cohost) setSeat("seated", ack.cohost);
    // An invite still unanswered from before a reload (or from another tab).
    const sent = ack.sent_invites?.at(-1);
    if (!ack.cohost && sent) setSeat("pending", sent.username, { inviteId: sent.invite_id, expiresAtMs: sent.expires_at_ms });
    // Rejoined after a restart or a network cut: publish again if our media is lost.
    if (ack.publishing === false) {
      hostOnAir = false;
      if (whip && stream?.status === "live") reconnectMedia();
    }
    if (typeof ack.stream?.viewers === "number") badge.setViewers(ack.stream.viewers);
  },
  onConnection: (state) => {
    if (state === "unavailable") chat.setAvailable(false);
    if (state === "reconnecting") chat.setAvailable(false);
  },
});

const chat = new ChatPanel($("#chat"), { room, me: me?.username, menuFor });
const tools = new ShowTools({ streamId, onRehearse: rehearse, onChange: (next) => applyStream(next) });
let runningAuction = null; // its listing's card shows it instead of "Start auction"
const listings = new ListingsPanel($("#listings"), {
  onPresent: present,
  actions: (listing) => listingActions(listing, { flash: true, running: runningAuction }),
});
$("#listings").append(listingForm());

// The host watches the auction and the giveaway, creates codes and giveaways.
const selling = {
  auction: new AuctionPanel($("#auction"), {
    room, me: () => me?.username, titleOf: (id) => listings.items.get(id)?.title, canBid: () => false,
    onRunning: (auction) => {
      runningAuction = auction;
      listings.render();
    },
  }),
  giveaway: new GiveawayPanel($("#giveaway"), { room, me: () => me?.username, canEnter: () => false }),
  onOrder: (order) => {
    codes.refresh();
    countSales([order], true);
  },
};

// --- sales: the show's orders as they come, and its running total ---------------------
const sales = { seen: new Set(), orders: 0, cents: 0, currency: "USD" };

/** Count orders not seen yet (the page's load and the live events may both bring one);
 * `announce`: a toast for each, as a sale happens. Giveaway prizes are not sales. */
function countSales(orders, announce = false) {
  for (const order of orders) {
    if (order.giveaway_id || sales.seen.has(order.id)) continue;
    sales.seen.add(order.id);
    sales.orders += 1;
    sales.cents += order.total_cents;
    const title = listings.items.get(order.listing_id)?.title ?? "an item";
    if (announce) toast(`Sold: ${title} to @${order.buyer} — ${formatPrice(order.total_cents, order.currency)}`, "ok");
    sales.currency = order.currency;
  }
  const total = $("#sales-total");
  total.hidden = sales.orders === 0;
  setText(total, `Sold this show: ${plural(sales.orders, "order", "orders")} · ${formatPrice(sales.cents, sales.currency)}`);
}
const codes = new CodesPanel($("#codes"), streamId);
new GiveawayForm($("#giveaway-tools"), streamId, selling.giveaway);
followSelling(room, selling);

// --- selling: the host lists items (a cohost's items too) and presents them ---------

function listingForm() {
  const field = (label, input) => h("label", { class: "field" }, label, input);
  const title = h("input", { name: "title", required: true, maxlength: 120, id: "listing-title" });
  const price = h("input", {
    name: "price", required: true, inputmode: "decimal", pattern: "\\d+([.,]\\d{1,2})?",
    placeholder: "45.00", id: "listing-price",
  });
  const quantity = h("input", {
    name: "quantity", type: "number", min: 1, value: 1, required: true, id: "listing-quantity",
  });
  const consigned = h("input", { type: "checkbox", id: "listing-consigned" });
  const format = h(
    "select",
    { id: "listing-format" },
    h("option", { value: "buy_now" }, "Buy now"),
    h("option", { value: "auction" }, "Auction (price = starting bid)"),
  );
  const form = h(
    "form",
    { class: "listing-form", "aria-label": "List an item" },
    field("Item", title),
    field("Price (USD)", price),
    field("Quantity", quantity),
    field("Sell as", format),
    h("label", { class: "field field-inline" }, consigned, "Cohost's item (you ship their label)"),
    h("button", { type: "submit", class: "btn btn-small btn-primary", id: "listing-submit" }, "List item"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      title: title.value.trim(),
      price_cents: Math.round(Number(price.value.replace(",", ".")) * 100),
      quantity: Number(quantity.value),
      format: format.value,
    };
    if (consigned.checked) {
      if (seat.state !== "seated") {
        toast("Seat a cohost first: their items are listed under your show.", "info");
        return;
      }
      body.consignor = seat.username;
    }
    try {
      const { listing } = await api("POST", `/api/streams/${streamId}/listings`, body);
      listings.upsert(listing);
      form.reset();
      toast(`Listed ${listing.title}.`, "ok");
    } catch (error) {
      toast(`Could not list it: ${error.message}`, "error");
    }
  });
  return form;
}

async function present(listing) {
  try {
    await api("POST", `/api/listings/${encodeURIComponent(listing.id)}/present`);
  } catch (error) {
    toast(`Could not present it: ${error.message}`, "error");
  }
}

// --- the show ----------------------------------------------------------------

function applyStream(next) {
  stream = next;
  setText($("#title"), stream.title);
  document.title = `Studio: ${stream.title} — Costream`;
  const subtitles = { scheduled: "Scheduled — not live yet", rehearsal: "Rehearsal — viewers can't see you yet" };
  setText($("#subtitle"), subtitles[stream.status] || `Hosted by @${stream.host}`);
  tools.update(stream, Boolean(whip));
  chat.setClosed(stream.status === "ended" ? CLOSED.stream_ended : null);
  document.body.dataset.show = stream.status; // app.css: an ended show sells nothing more
  if (stream.status === "ended") {
    showEnded();
  } else if (stream.status === "live" && whip) {
    badge.live(stream.started_at);
  } else if (stream.status === "rehearsal") {
    badge.set("connecting", "Rehearsal");
  }
  if (stream.cohost && seat.state !== "seated") setSeat("seated", stream.cohost);
  if (!stream.cohost && seat.state === "seated") setSeat("none", null);
}

function showEnded() {
  republishing.cancel();
  replaying.cancel();
  whip?.stop();
  monitor?.stop();
  whip = monitor = null;
  $("#program").srcObject = null;
  camera.stop();
  badge.set("ended", "Show ended");
  setChip($("#conn"), "idle", "Off air");
  $("#golive").hidden = true;
  $("#end").hidden = true;
  $("#republish").hidden = true;
  $("#program-idle").hidden = false;
  setText($("#program-idle"), "This show has ended. Thanks for streaming!");
  document.querySelector(".preview-row").hidden = true;
  $("#cohost-actions").replaceChildren();
  setText($("#cohost-state"), "The show has ended.");
}

async function startCamera() {
  setText($("#media-error"), "");
  $("#retry-camera").hidden = true;
  try {
    await camera.start();
    return true;
  } catch (error) {
    setText($("#media-error"), error.message);
    $("#retry-camera").hidden = false;
    return false;
  }
}

function onPublishState(state) {
  const labels = {
    connecting: ["connecting", "Connecting…"],
    connected: ["ok", "Publishing"],
    reconnecting: ["warn", "Reconnecting…"],
    failed: ["bad", "Connection failed"],
    closed: ["idle", "Off air"],
  };
  const [chipState, text] = labels[state] || ["idle", state];
  setChip($("#conn"), chipState, text);
  $("#republish").hidden = state !== "failed";
  if (state === "connected") {
    republishing.cancel();
    republishing.reset();
    const session = whip;
    // Connected but the server still misses our pictures after a while: try again
    // (only the server's `stage:media` can tell, so only with realtime up).
    setTimeout(() => session === whip && room.connected && !hostOnAir && reconnectMedia(), 5000);
  }
  if ((state === "failed" || state === "closed") && stream?.status === "live") reconnectMedia();
}

function reconnectMedia() {
  setChip($("#conn"), "warn", "Reconnecting…");
  republishing.schedule();
}

function publishing(session) {
  whip = session;
  // Only the current session speaks: a replaced one's late events are ignored.
  session.onState((state) => session === whip && onPublishState(state));
}

let republishBusy = false;

async function republish() {
  if (!["live", "rehearsal"].includes(stream?.status) || !whip || republishBusy) return;
  republishBusy = true;
  $("#republish").hidden = true;
  setChip($("#conn"), "warn", "Reconnecting…");
  await whip.stop();
  try {
    publishing(await publish(streamId, me.token, camera.stream));
  } catch (error) {
    setChip($("#conn"), "bad", `Reconnecting… (${error.message})`);
    $("#republish").hidden = false;
    republishing.schedule();
  } finally {
    republishBusy = false;
  }
}

async function startMonitor() {
  await monitor?.stop();
  monitor = await play(streamId, me.token);
  replaying.reset();
  const session = monitor;
  monitor.watchStall(() => session === monitor && replaying.schedule());
  monitor.onState((state) => session === monitor && state === "failed" && replaying.schedule());
  $("#program").srcObject = monitor.stream;
  // The monitor video stays muted; the mix-minus (everyone but me) plays here.
  $("#program-audio").srcObject = new MediaStream(monitor.stream.getAudioTracks());
  $("#program-audio").play().catch(() => {});
  $("#program-idle").hidden = true;
}

/** Camera on, publishing and the program monitor (for a rehearsal or the show). */
async function onAir() {
  if (!camera.stream && !(await startCamera())) throw new Error("camera unavailable");
  if (!whip) publishing(await publish(streamId, me.token, camera.stream));
  if (!monitor) await startMonitor();
}

async function rehearse() {
  ({ stream } = await api("POST", `/api/streams/${streamId}/rehearse`));
  applyStream(stream);
  await onAir();
  toast("Rehearsal: only you and your cohost see this.", "info");
}

async function goLive() {
  $("#golive").disabled = true;
  badge.set("connecting", "Connecting…");
  // Already publishing since the rehearsal: the connection itself does not change.
  if (!whip) setChip($("#conn"), "connecting", "Connecting…");
  try {
    if (!camera.stream && !(await startCamera())) throw new Error("camera unavailable");
    if (stream.status === "scheduled" || stream.status === "rehearsal") {
      ({ stream } = await api("POST", `/api/streams/${streamId}/start`));
    }
    await onAir();
    badge.live(stream.started_at);
    applyStream(stream);
    $("#golive").hidden = true;
    $("#end").hidden = false;
    toast("You're live! Viewers can see you now.", "ok");
  } catch (error) {
    badge.set("offline", "Offline");
    setChip($("#conn"), "bad", `Failed: ${error.message}`);
    $("#golive").disabled = false;
  }
}

async function end() {
  const ok = await confirmDialog({
    title: "End the show?",
    body: "Everyone watching will see that the show has ended. This cannot be undone.",
    confirm: "End show",
    cancel: "Keep streaming",
    danger: true,
  });
  if (!ok) return;
  $("#end").disabled = true;
  try {
    ({ stream } = await api("POST", `/api/streams/${streamId}/end`));
  } catch (error) {
    toast(`Could not end the show: ${error.message}`, "error");
    $("#end").disabled = false;
    return;
  }
  showEnded();
}

// --- cohost seat ---------------------------------------------------------------

const MEDIA_STATES = {
  reconnecting: "reconnecting…",
  connecting: "connecting…",
  connected: "on air",
  failed: "connection failed",
  camera_blocked: "camera blocked",
  closed: "off air",
};

function setSeat(state, username, extra = {}) {
  Object.assign(seat, { state, username, media: null, expiresAtMs: null }, extra);
  const node = $("#cohost-state");
  node.dataset.state = state;
  node.dataset.media = seat.media || "";
  const actions = $("#cohost-actions");
  actions.replaceChildren();
  const who = username ? `@${username}` : "";
  const text = {
    none: "No cohost yet. Click a name in chat to invite someone on stage.",
    pending: `Invited ${who} — waiting for an answer…`,
    declined: `${who} declined the invite.`,
    expired: `The invite to ${who} expired.`,
    seated: `${who} is your cohost${seat.media ? ` — ${MEDIA_STATES[seat.media] || seat.media}` : ""}`.replace(/([^…])$/, "$1."),
  }[state];
  setText(node, text);
  if (state === "declined" || state === "expired") {
    actions.append(
      h("button", { type: "button", class: "btn btn-small btn-primary", id: "cohost-reinvite", onclick: () => invite(username) }, "Invite again"),
    );
  }
  if (state === "seated") {
    actions.append(
      h("button", { type: "button", class: "btn btn-small btn-danger", id: "cohost-remove", onclick: removeCohost }, "Remove cohost"),
    );
  }
  if (state === "pending" && seat.inviteId) {
    actions.append(
      h("button", { type: "button", class: "btn btn-small", id: "cohost-cancel", onclick: cancelInvite }, "Cancel invite"),
    );
  }
  if (state === "pending" && typeof seat.expiresAtMs === "number") {
    // Counted down by clock.js against the server's clock.
    const endsAtMs = String(seat.expiresAtMs);
    actions.append(h("span", { class: "muted small", id: "cohost-invite-clock", role: "timer", "aria-label": "Time left to answer", dataset: { endsAtMs } }, timeLeft(seat.expiresAtMs)));
  }
}

async function invite(username) {
  try {
    const { invite } = await room.request("cohost:invite", { username });
    setSeat("pending", invite?.username || username, { inviteId: invite?.id, expiresAtMs: invite?.expires_at_ms });
  } catch (error) {
    const messages = {
      cohost_seat_taken: "The cohost seat is taken — remove the current cohost first.",
    };
    toast(messages[error.code] || `Could not invite @${username}: ${error.message}`, "error");
  }
}

async function cancelInvite() {
  const { username, inviteId } = seat;
  try {
    await room.request("cohost:cancel", { invite_id: inviteId });
  } catch (error) {
    // Answered meanwhile: the seat's own event (changed / declined / expired) tells.
    toast(`Could not cancel the invite: ${error.message}`, "error");
    return;
  }
  if (seat.inviteId === inviteId) setSeat("none", null);
  toast(`Invite to @${username} cancelled.`);
}

async function removeCohost() {
  const username = seat.username;
  await room.request("cohost:remove", {});
  // The seat's cohost:changed may have come before this ack, and said it already.
  if (seat.state === "seated" && seat.username === username) {
    setSeat("none", null);
    toast(`@${username} left the stage.`);
  }
}

async function moderate(event, username, verb) {
  await room.request(event, { username });
  if (event === "user:mute") muted.add(username.toLowerCase());
  else muted.delete(username.toLowerCase());
  toast(`@${username} ${verb}.`, "ok");
}

function menuFor(username, message) {
  const items = [];
  const self = username.toLowerCase() === me?.username.toLowerCase();
  if (!self) {
    if (seat.state === "seated" && seat.username?.toLowerCase() === username.toLowerCase()) {
      items.push({ id: "remove", label: "Remove cohost", run: removeCohost, danger: true });
    } else if (seat.state !== "seated") {
      items.push({ id: "invite", label: "Invite as cohost", run: () => invite(username) });
    }
    items.push({ id: "mention", label: `Mention @${username}`, run: () => chat.mention(username) });
    if (muted.has(username.toLowerCase())) {
      items.push({ id: "unmute", label: "Unmute in chat", run: () => moderate("user:unmute", username, "can chat again") });
    } else {
      items.push({ id: "mute", label: "Mute in chat", run: () => moderate("user:mute", username, "is muted"), danger: true });
    }
  }
  if (message) {
    items.push({
      id: "hide",
      label: "Hide message",
      danger: true,
      run: async () => {
        await room.request("chat:hide", { message_id: message.id });
        chat.hide(message.id);
      },
    });
  }
  return items;
}

room
  .on("viewers", ({ count }) => badge.setViewers(count))
  .on("stream:status", ({ stream: next }) => next && applyStream(next))
  .on("cohost:declined", ({ username }) => {
    setSeat("declined", username);
    toast(`@${username} declined your invite.`);
  })
  .on("cohost:invite_expired", ({ username }) => setSeat("expired", username))
  .on("cohost:invite_sent", ({ invite_id: inviteId, username, expires_at_ms: expiresAtMs }) => {
    if (seat.state !== "seated") setSeat("pending", username, { inviteId, expiresAtMs });
  })
  .on("cohost:invite_cancelled", ({ invite_id: inviteId }) => {
    // Cancelled from another of the host's tabs.
    if (seat.state === "pending" && seat.inviteId === inviteId) setSeat("none", null);
  })
  .on("cohost:changed", ({ cohost }) => {
    if (cohost) {
      setSeat("seated", cohost);
      toast(`@${cohost} joined you on stage!`, "ok");
    } else if (seat.state === "seated") {
      toast(`@${seat.username} left the stage.`);
      setSeat("none", null);
    }
  })
  .on("cohost:media", ({ username, state }) => {
    // The cohost's publishing state: reported by their page, or by the server when
    // their pictures stop or come back ("reconnecting" / "connected").
    if (seat.state === "seated" && username === seat.username) {
      setSeat("seated", username, { media: state });
    }
  })
  .on("cohost:dropped", ({ username }) => {
    toast(`@${username}'s connection dropped: the cohost seat is free again.`, "info");
  })
  .on("stage:media", ({ seat: who, state }) => {
    if (who !== "host") return;
    hostOnAir = state === "connected";
    if (!hostOnAir && whip && stream?.status === "live") reconnectMedia();
  })
  .on("listing:created", ({ listing }) => listings.upsert(listing))
  .on("listing:updated", ({ listing }) => listings.upsert(listing))
  .on("listing:presenting", ({ listing }) => listings.upsert(listing, true));

const outputs = new OutputsPanel($("#outputs"), streamId, room);

// --- start-up --------------------------------------------------------------------

function gate(content) {
  $("#gate-card").replaceChildren(...content);
  $("#gate").hidden = false;
}

async function load() {
  try {
    ({ stream } = await api("GET", `/api/streams/${streamId}`));
  } catch (error) {
    gate([h("h2", {}, "Show not found"), h("p", {}, error.message), h("a", { href: "/", class: "btn" }, "Back home")]);
    return;
  }
  applyStream(stream);
  if (!me) {
    gate([
      authForm({
        idPrefix: "studio-auth",
        intro: `Sign in as @${stream.host} to run this show.`,
        onSubmit: async (username, password, register) => {
          me = await signIn(username, password, register);
          $("#gate").hidden = true;
          chat.setMe(me.username);
          await ready();
        },
      }),
    ]);
    return;
  }
  await ready();
}

async function ready() {
  if (me.username.toLowerCase() !== stream.host.toLowerCase()) {
    gate([
      h("h2", {}, "This studio belongs to another host"),
      h("p", {}, `You are signed in as @${me.username}; only @${stream.host} can broadcast this show.`),
      h("div", { class: "row" },
        h("a", { href: `/watch/${encodeURIComponent(streamId)}`, class: "btn btn-primary" }, "Watch the show"),
        h("button", { type: "button", class: "btn", onclick: () => { signOut(); location.reload(); } }, "Sign out")),
    ]);
    return;
  }
  allListings(streamId)
    .then((all) => listings.setAll(all))
    .catch(() => listings.setAll([]));
  codes.refresh();
  api("GET", `/api/streams/${encodeURIComponent(streamId)}/orders`)
    .then(({ orders }) => countSales(orders))
    .catch(() => {}); // the total then starts from this page's first sale
  room.connect(me.token);
  outputs.start();
  if (stream.status === "live") {
    setText($("#golive"), "Resume broadcast");
    setText($("#program-idle strong"), "Resume broadcast");
    badge.set("offline", "Live — not publishing");
  }
  if (stream.status !== "ended") {
    await startCamera();
    $("#golive").disabled = false; // ready: the show is loaded and the camera tried
  }
}

$("#golive").addEventListener("click", goLive);
$("#end").addEventListener("click", end);
$("#republish").addEventListener("click", republish);
$("#retry-camera").addEventListener("click", startCamera);
window.addEventListener("beforeunload", (event) => {
  if (whip && stream?.status === "live") event.preventDefault();
});
load();

// The link to this show's orders and shipping page.
document.getElementById("orders-link").href = `/shows/${encodeURIComponent(streamIdFromPath())}/orders`;
