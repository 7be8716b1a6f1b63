// Viewer watch page; also the cohost's page once they accept an invite.

import { allListings, api, currentUser, signIn, signOut, streamIdFromPath } from "/static/js/api.js";
import { ChatPanel } from "/static/js/chat.js";
import { Camera } from "/static/js/devices.js";
import { hlsRequested, playHls } from "/static/js/hls.js";
import { play, publish } from "/static/js/media.js";
import { Room } from "/static/js/room.js";
import {
  $, LiveBadge, ListingsPanel, authForm, confirmDialog, formatPrice, formatWhen, h, setChip, setText,
  toast,
} from "/static/js/ui.js";

const streamId = streamIdFromPath();
const badge = new LiveBadge($("#badge"));
const player = $("#player");
let me = currentUser();
let stream = null;
let role = "viewer";
let playback = null;
let playSeq = 0;
let loading = false; // a WHEP negotiation is under way
let realtime = false;
// The cohost side: the pending invite, and our publishing session once seated.
const stage = { inviteId: null, host: null, active: false, whip: null };

const camera = new Camera(
  { video: $("#invite-preview"), micButton: $("#cohost-mic"), camButton: $("#cohost-cam") },
  { onTrack: (track) => stage.whip?.replaceTrack(track) },
);

const room = new Room(streamId, {
  onJoin: (ack) => {
    realtime = true;
    role = ack.role || "viewer";
    chat.setAvailable(true);
    chat.setMessages(ack.chat);
    chat.setMuted(Boolean(ack.muted));
    if (ack.listings) listings.setAll(ack.listings);
    // The join carries the newest listings only; fetch the rest when there are more.
    if (ack.listings_more) allListings(streamId).then((all) => listings.setAll(all)).catch(() => {});
    if (ack.stream) applyStream(ack.stream);
    if (role === "cohost" && !stage.active) enterStage();
    if (ack.pending_invite && !stage.active) showInvite(ack.pending_invite);
  },
  onConnection: (state) => {
    if (state !== "connected") chat.setAvailable(false);
    if (state === "unavailable") startPolling();
  },
});

const signInForm = authForm({
  idPrefix: "chat-auth",
  onSubmit: async (username, password, register) => {
    me = await signIn(username, password, register);
    chat.setMe(me.username);
    renderAccount();
    toast(`Welcome, @${me.username}!`, "ok");
    await room.reauth(me.token);
  },
});

const chat = new ChatPanel($("#chat"), {
  room,
  me: me?.username,
  signInForm,
  menuFor: (username) =>
    me && username.toLowerCase() !== me.username.toLowerCase()
      ? [{ id: "mention", label: `Mention @${username}`, run: () => chat.mention(username) }]
      : [],
});

const listings = new ListingsPanel($("#listings"), { onBuy: buy });

// --- the show's phases: scheduled -> live -> ended ----------------------------------

function applyStream(next) {
  stream = next;
  setText($("#title"), stream.title);
  document.title = `${stream.title} — Costream`;
  const withCohost = stream.cohost ? ` with @${stream.cohost}` : "";
  setText($("#host-name"), `@${stream.host}${withCohost}`);
  setText($("#description"), stream.description || "No description yet.");
  setText($("#poster-title"), stream.title);
  setText($("#poster-host"), `Hosted by @${stream.host}`);
  const when = formatWhen(stream.scheduled_at);
  setText($("#poster-when"), when ? `Scheduled for ${when}` : "The host will go live shortly.");
  setText($("#poster-desc"), stream.description || "");
  if (typeof stream.viewers === "number") badge.setViewers(stream.viewers);

  $("#before-live").hidden = stream.status !== "scheduled";
  $("#ended").hidden = stream.status !== "ended";
  if (stream.status === "scheduled") {
    badge.set("offline", "Starting soon");
  } else if (stream.status === "live") {
    badge.live(stream.started_at);
    if (!playback && !loading) startPlayback();
  } else {
    badge.set("ended", "Show ended");
    setText($("#ended-note"), `@${stream.host}'s show is over. Thanks for watching!`);
    stopPlayback();
    if (stage.active) leaveStage("The show ended.");
    $("#unmute").hidden = true;
    stopPolling();
  }
}

async function startPlayback() {
  const seq = ++playSeq;
  loading = true;
  try {
    await playLoop(seq);
  } finally {
    if (seq === playSeq) loading = false;
  }
}

// WebRTC attempts before a viewer falls back to HLS (cohosts never do: they talk live).
const WEBRTC_ATTEMPTS_BEFORE_HLS = 2;

async function playLoop(seq) {
  await stopPlayback(false);
  if (role === "viewer" && hlsRequested()) {
    await playBehind(seq);
    return;
  }
  for (let attempt = 0; attempt < 6 && seq === playSeq; attempt += 1) {
    try {
      const session = await play(streamId, me?.token);
      if (seq !== playSeq) {
        session.stop();
        return;
      }
      playback = session;
      player.srcObject = session.stream;
      session.onState((state) => {
        if (state === "failed" && seq === playSeq && stream?.status === "live") {
          playback = null;
          // WebRTC got through signalling but not the network: HLS goes over HTTP.
          if (role === "viewer") playBehind(seq);
          else setTimeout(() => seq === playSeq && startPlayback(), 1500);
        }
      });
      player.play().catch(() => {});
      updateUnmute();
      return;
    } catch (error) {
      if (error.code === "stream_ended" || stream?.status === "ended") return;
      const fallback = error.code === "capacity" || attempt + 1 >= WEBRTC_ATTEMPTS_BEFORE_HLS;
      if (role === "viewer" && fallback) {
        await playBehind(seq);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000 * (attempt + 1)));
    }
  }
}

/** HLS over plain HTTP (any cache or CDN), a few seconds behind; bids still work. */
async function playBehind(seq) {
  if (seq !== playSeq) return;
  try {
    const session = await playHls(player, streamId);
    if (seq !== playSeq) {
      session.stop();
      return;
    }
    playback = session;
    $("#behind-note").hidden = false;
    updateUnmute();
  } catch {
    toast("The video could not start. Reload the page to try again.", "error");
  }
}

async function stopPlayback(bump = true) {
  if (bump) playSeq += 1;
  const session = playback;
  playback = null;
  player.srcObject = null;
  $("#behind-note").hidden = true;
  await session?.stop();
}

function updateUnmute() {
  $("#unmute").hidden = !player.muted || stream?.status !== "live";
}

$("#unmute").addEventListener("click", () => {
  player.muted = false;
  player.play().catch(() => {});
  updateUnmute();
});
player.addEventListener("volumechange", updateUnmute);

let pollTimer = null;
function startPolling() {
  // Without realtime, learn about start/end by asking now and then.
  pollTimer ??= setInterval(async () => {
    try {
      const { stream: next } = await api("GET", `/api/streams/${streamId}`);
      if (next.status !== stream?.status) applyStream(next);
    } catch {}
  }, 5000);
}
function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

// --- account ------------------------------------------------------------------------

function renderAccount() {
  const account = $("#account");
  if (me) {
    account.replaceChildren(
      h("span", { class: "muted" }, "Signed in as ", h("strong", {}, `@${me.username}`)),
      h("button", {
        type: "button",
        class: "btn btn-small",
        id: "sign-out",
        onclick: () => {
          signOut();
          location.reload();
        },
      }, "Sign out"),
    );
  } else {
    account.replaceChildren(
      h("button", {
        type: "button",
        class: "btn btn-small btn-primary",
        id: "sign-in",
        onclick: openSignIn,
      }, "Sign in"),
    );
  }
}

function openSignIn() {
  $("#chat-signin-open")?.click();
  $("#chat-auth-username")?.focus();
}

async function buy(listing) {
  if (!me) {
    toast("Sign in to buy.", "info");
    openSignIn();
    return;
  }
  // One tap on a live page must not spend money: confirm in the page first.
  const price = formatPrice(listing.price_cents, listing.currency || "USD");
  const confirmed = await confirmDialog({
    title: `Buy ${listing.title}?`,
    body: `1 item for ${price}, sold by @${stream?.host ?? "the host"}.`,
    confirm: `Buy for ${price}`,
  });
  if (!confirmed) return;
  try {
    await api("POST", `/api/listings/${encodeURIComponent(listing.id)}/buy`, { quantity: 1 });
    toast(`You bought ${listing.title}!`, "ok");
  } catch (error) {
    toast(error.code === "sold_out" ? "Sorry, that just sold out." : error.message, "error");
  }
}

// --- cohost: invite popup, on stage, leave --------------------------------------------

function showInvite({ invite_id: inviteId, host, stream_id: sid }) {
  if (stage.active || (sid && sid !== streamId)) return;
  if ($("#invite").open && stage.inviteId === inviteId) return; // join ack + event: same invite
  Object.assign(stage, { inviteId, host });
  setText($("#invite-title"), `@${host} invited you on stage`);
  setText($("#invite-text"), `Join @${host}'s live show as cohost: viewers will see you next to them. Check your camera below.`);
  setText($("#invite-camera"), "");
  $("#invite-accept").disabled = false;
  $("#invite-decline").disabled = false;
  const dialog = $("#invite");
  if (!dialog.open) dialog.showModal();
  $("#invite-accept").focus();
  camera.el.video = $("#invite-preview");
  camera.start().catch((error) => setText($("#invite-camera"), `${error.message} You can still accept and fix it after.`));
}

async function respond(accept) {
  $("#invite-accept").disabled = true;
  $("#invite-decline").disabled = true;
  try {
    await room.request("cohost:respond", { invite_id: stage.inviteId, accept });
  } catch (error) {
    toast(`Could not answer the invite: ${error.message}`, "error");
    $("#invite").close();
    camera.stop();
    return;
  }
  $("#invite").close();
  if (accept) {
    await enterStage();
  } else {
    camera.stop();
    toast("Invite declined — enjoy the show!");
  }
}

async function enterStage() {
  stage.active = true;
  document.body.classList.add("is-cohost");
  $("#cohost-bar").hidden = false;
  player.muted = false; // accepting was the gesture that allows sound
  updateUnmute();
  // Re-open the program with our own token: the server gives the cohost a mix-minus.
  await Promise.all([publishOnStage(), startPlayback()]);
}

function onStageState(state) {
  const labels = {
    connecting: ["connecting", "Connecting…"],
    connected: ["ok", "On air"],
    reconnecting: ["warn", "Reconnecting…"],
    failed: ["bad", "Connection failed"],
    closed: ["idle", "Off air"],
  };
  const [chipState, text] = labels[state] || ["idle", state];
  setChip($("#cohost-conn"), chipState, text);
  if (state === "failed") {
    setText($("#cohost-error"), "The connection to the studio failed (network or firewall). Check your connection and retry.");
    $("#cohost-retry").hidden = false;
  }
  room.tryRequest("cohost:media", { state });
}

async function publishOnStage() {
  setText($("#cohost-error"), "");
  $("#cohost-retry").hidden = true;
  setChip($("#cohost-conn"), "connecting", "Connecting…");
  await stage.whip?.stop();
  stage.whip = null;
  try {
    camera.el.video = $("#self-view");
    if (!camera.stream) await camera.start();
    else $("#self-view").srcObject = camera.stream;
  } catch (error) {
    setChip($("#cohost-conn"), "bad", "Camera blocked");
    setText($("#cohost-error"), error.message);
    $("#cohost-retry").hidden = false;
    room.tryRequest("cohost:media", { state: "camera_blocked" });
    return;
  }
  try {
    stage.whip = await publish(streamId, me.token, camera.stream);
    stage.whip.onState(onStageState);
  } catch (error) {
    setChip($("#cohost-conn"), "bad", "Not on air");
    setText($("#cohost-error"), `Could not go on air: ${error.message}`);
    $("#cohost-retry").hidden = false;
    room.tryRequest("cohost:media", { state: "failed" });
  }
}

async function leaveStage(message) {
  if (!stage.active) return;
  stage.leaving = true;
  stage.active = false;
  document.body.classList.remove("is-cohost");
  await stage.whip?.stop();
  stage.whip = null;
  camera.stop();
  $("#cohost-bar").hidden = true;
  if (message) toast(message);
  if (stream?.status === "live") await startPlayback(); // back to the viewers' feed
  stage.leaving = false;
}

$("#invite-accept").addEventListener("click", () => respond(true));
$("#invite-decline").addEventListener("click", () => respond(false));
$("#invite").addEventListener("cancel", (event) => {
  event.preventDefault();
  respond(false);
});
$("#cohost-retry").addEventListener("click", publishOnStage);
$("#cohost-leave").addEventListener("click", async () => {
  stage.leaving = true; // our own leave also brings cohost:removed: no "host removed you"
  try {
    await room.request("cohost:leave", {});
  } catch (error) {
    toast(error.message, "error");
  }
  await leaveStage("You left the stage.");
  stage.leaving = false;
});

room
  .on("stream:status", ({ stream: next }) => next && applyStream(next))
  .on("viewers", ({ count }) => badge.setViewers(count))
  .on("cohost:invited", (invite) => showInvite(invite))
  .on("cohost:removed", ({ stream_id: sid } = {}) => {
    if (stage.leaving || (sid && sid !== streamId)) return;
    leaveStage("The host moved you back to the audience.");
  })
  .on("cohost:changed", ({ cohost }) => {
    if (stream) applyStream({ ...stream, cohost });
    if (stage.active && (!cohost || cohost.toLowerCase() !== me?.username.toLowerCase())) {
      leaveStage("The host moved you back to the audience.");
    }
  })
  .on("mention", ({ message }) => {
    if (message?.user && message.stream_id === streamId) toast(`@${message.user} mentioned you`, "info");
  })
  .on("listing:created", ({ listing }) => listings.upsert(listing))
  .on("listing:updated", ({ listing }) => listings.upsert(listing))
  .on("listing:presenting", ({ listing }) => listings.upsert(listing, true));

// --- start-up --------------------------------------------------------------------------

async function load() {
  renderAccount();
  try {
    ({ stream } = await api("GET", `/api/streams/${streamId}`));
  } catch (error) {
    setText($("#title"), "Show not found");
    badge.set("ended", "Unavailable");
    setText($("#status"), error.status === 404 ? "Not found" : `Failed: ${error.message}`);
    return;
  }
  applyStream(stream);
  allListings(streamId)
    .then((all) => listings.setAll(all))
    .catch(() => listings.setAll([]));
  await room.connect(me?.token);
}

load();
