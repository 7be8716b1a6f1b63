// Viewer watch page; also the cohost's page once they accept an invite.

import { allListings, api, currentUser, signIn, signOut, streamIdFromPath } from "/static/js/api.js";
import { CLOSED, ChatPanel } from "/static/js/chat.js";
import { Camera } from "/static/js/devices.js";
import { hlsRequested, playHls } from "/static/js/hls.js";
import { Backoff, play, publish } from "/static/js/media.js";
import { Room } from "/static/js/room.js";
import {
  cover, remindButton, shareBox, showReminder, startCountdown, syncClock,
} from "/static/js/lifecycle.js";
import {
  AuctionPanel, GiveawayPanel, applySellingAck, checkout, followSelling, listingActions,
} from "/static/js/selling.js";
import {
  $, LiveBadge, ListingsPanel, authForm, formatPrice, formatWhen, h, setChip, setText, toast,
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
const stage = { inviteId: null, host: null, active: false, whip: null, onAir: false };
// A cohost whose pictures stopped reaching the server republishes by itself.
const stageRepublish = new Backoff(() => {
  if (stage.active && !(stage.onAir && stage.whip?.pc.connectionState === "connected")) {
    publishOnStage();
  }
});

const camera = new Camera(
  { video: $("#invite-preview"), micButton: $("#cohost-mic"), camButton: $("#cohost-cam") },
  { onTrack: (track) => stage.whip?.replaceTrack(track) },
);

// A sharer's `?ref=` is remembered for this show, so that a viewer who signs in (or
// signs up) after following the link is still attributed to the sharer.
const refKey = `costream.ref.${streamId}`;
const shareRef = rememberRef();

function rememberRef() {
  const fromUrl = new URLSearchParams(location.search).get("ref");
  try {
    if (fromUrl) localStorage.setItem(refKey, fromUrl);
    return fromUrl || localStorage.getItem(refKey);
  } catch {
    return fromUrl;
  }
}

const room = new Room(streamId, {
  joinExtras: () => (shareRef ? { ref: shareRef } : {}),
  onJoin: (ack) => {
    realtime = true;
    document.body.dataset.joined = "true"; // (tests wait on it)
    role = ack.role || "viewer";
    chat.setAvailable(true);
    chat.setMessages(ack.chat);
    chat.setMuted(Boolean(ack.muted));
    applySellingAck(ack, selling);
    setSellingRole();
    if (ack.listings) listings.setAll(ack.listings);
    showPinned(ack.pinned);
    // The join carries the newest listings only; fetch the rest when there are more.
    if (ack.listings_more) allListings(streamId).then((all) => listings.setAll(all)).catch(() => {});
    if (ack.stream) applyStream(ack.stream);
    if (role === "cohost" && !stage.active) enterStage();
    else if (stage.active && ack.publishing === false) {
      stage.onAir = false;
      stageReconnect();
    }
    if (ack.pending_invite && !stage.active) showInvite(ack.pending_invite);
    showReferrer(ack.referrer);
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

// --- selling: the auction on stage, giveaways; the cohost presents and starts auctions --

const isViewer = () => Boolean(me) && role === "viewer";
let runningAuction = null; // for the cohost: its listing's card shows it, not "Start auction"
const selling = {
  auction: new AuctionPanel($("#auction"), {
    room, me: () => me?.username, titleOf: (id) => listings.items.get(id)?.title, canBid: isViewer,
    onRunning: (auction) => {
      runningAuction = auction;
      listings.render();
    },
  }),
  giveaway: new GiveawayPanel($("#giveaway"), { room, me: () => me?.username, canEnter: isViewer }),
  // Buy-now orders are confirmed by the checkout, auction wins by the auction panel.
  onOrder: (order) => order.giveaway_id && toast("You won the giveaway! The host will ship your prize.", "ok"),
};
followSelling(room, selling);

function setSellingRole() {
  // The cohost presents items and starts auctions; flash sales and codes stay the host's.
  const cohost = role === "cohost";
  listings.onBuy = cohost ? null : buy;
  listings.onPresent = cohost ? present : null;
  listings.actions = cohost ? (listing) => listingActions(listing, { flash: false, running: runningAuction }) : null;
  listings.render();
}

async function present(listing) {
  try {
    await api("POST", `/api/listings/${encodeURIComponent(listing.id)}/present`);
  } catch (error) {
    toast(`Could not present it: ${error.message}`, "error");
  }
}

// --- the show's phases: scheduled -> live -> ended ----------------------------------

let stopCountdown = () => {};

function showPinned(pinned) {
  const box = $("#pinned");
  box.hidden = !pinned;
  if (pinned) {
    box.replaceChildren(
      h("span", { class: "pinned-label" }, "Pinned"),
      h("span", { class: "pinned-text" }, pinned.text),
      h("span", { class: "muted pinned-by" }, `@${pinned.by}`),
    );
  }
}

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

  document.body.dataset.show = stream.status; // app.css: an ended show sells nothing more
  const waiting = stream.status === "scheduled" || stream.status === "rehearsal";
  const staff = [stream.host, stream.cohost].some((name) => name && name.toLowerCase() === me?.username.toLowerCase());
  chat.setClosed(
    stream.status === "ended" ? CLOSED.stream_ended : stream.status === "rehearsal" && !staff ? CLOSED.stream_not_live : null,
  );
  $("#before-live").hidden = !waiting;
  $("#ended").hidden = stream.status !== "ended";
  $("#audio-cover").hidden = !(stream.kind === "audio" && stream.status === "live");
  $("#before-cover").replaceChildren(cover(stream, "cover cover-wide"));
  $("#audio-cover-art").replaceChildren(cover(stream, "cover cover-wide"));
  stopCountdown();
  if (waiting) {
    stopCountdown = startCountdown($("#countdown"), stream);
    if (!$("#before-actions").childElementCount) {
      $("#before-actions").append(
        remindButton(stream, { onNeedSignIn: () => $("#chat").focus() }),
        shareBox(stream),
      );
    }
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
  // Keep trying while the show is live (a restarting server answers again in seconds).
  for (let attempt = 0; seq === playSeq && stream?.status === "live"; attempt += 1) {
    try {
      const session = await play(streamId, me?.token);
      if (seq !== playSeq) {
        session.stop();
        return;
      }
      playback = session;
      player.srcObject = session.stream;
      // No pictures for a while although ICE looks fine (the server restarted): play again.
      session.watchStall(() => seq === playSeq && stream?.status === "live" && startPlayback());
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
      // The server answered but WebRTC will not do: HLS. No answer at all (the server
      // is restarting): HLS would fail too, so keep trying WebRTC with backoff.
      const answered = Boolean(error.code);
      const fallback =
        error.code === "capacity" || (answered && attempt + 1 >= WEBRTC_ATTEMPTS_BEFORE_HLS);
      if (role === "viewer" && fallback) {
        await playBehind(seq);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(8000, 500 * 2 ** attempt)));
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
  const order = await checkout(listing);
  if (order) toast(`You bought ${listing.title} for ${formatPrice(order.total_cents, order.currency)}!`, "ok");
}

// --- share: the viewer's own link, the poster, the commission -----------------------

function shareText(percent) {
  if (!me) return "Sign in to get your own link: you earn a commission on what it sells.";
  return percent > 0
    ? `Your link earns you ${percent} % of every order it brings, paid once the show's money is paid out.`
    : "The host has not set a commission for this show yet: your link still counts who it brings.";
}

function showReferrer(referrer) {
  $("#referred-by").hidden = !referrer;
  setText($("#referred-by"), referrer ? `You came through @${referrer}'s link.` : "");
}

async function openShare() {
  const dialog = $("#share");
  const percent = stream?.sharer_commission_percent ?? 0;
  let url = `${location.origin}/watch/${encodeURIComponent(streamId)}`;
  let poster = null;
  if (me) {
    try {
      const link = await api("GET", `/api/streams/${encodeURIComponent(streamId)}/share-link`);
      ({ url, poster_url: poster } = link);
      setText($("#share-text"), shareText(link.sharer_commission_percent));
    } catch (error) {
      setText($("#share-text"), error.message);
    }
  } else {
    setText($("#share-text"), shareText(percent));
  }
  $("#share-url").value = url;
  $("#share-poster").hidden = !poster;
  if (poster) $("#share-poster-link").href = poster;
  $("#share-mine").hidden = !me;
  $("#share-native").hidden = typeof navigator.share !== "function";
  if (!dialog.open) dialog.showModal();
  $("#share-url").select();
}

$("#share-open").addEventListener("click", openShare);
$("#share-close").addEventListener("click", () => $("#share").close());
$("#share-copy").addEventListener("click", async () => {
  const url = $("#share-url").value;
  try {
    await navigator.clipboard.writeText(url);
    toast("Link copied.", "ok");
  } catch {
    $("#share-url").select();
    toast("Select the link and copy it.", "info");
  }
});
$("#share-native").addEventListener("click", () => {
  navigator.share({ title: stream?.title || "Costream", url: $("#share-url").value }).catch(() => {});
});

// --- cohost: invite popup, on stage, leave --------------------------------------------

function showInvite({ invite_id: inviteId, host, stream_id: sid, expires_at_ms: expiresAtMs }) {
  if (stage.active || (sid && sid !== streamId)) return;
  if ($("#invite").open && stage.inviteId === inviteId) return; // join ack + event: same invite
  Object.assign(stage, { inviteId, host });
  setText($("#invite-title"), `@${host} invited you on stage`);
  setText($("#invite-text"), `Join @${host}'s live show as cohost: viewers will see you next to them. Check your camera below.`);
  setText($("#invite-camera"), "");
  // The server's deadline, counted down by clock.js (data-ends-at-ms).
  $("#invite-expires").hidden = typeof expiresAtMs !== "number";
  if (typeof expiresAtMs === "number") $("#invite-clock").dataset.endsAtMs = String(expiresAtMs);
  $("#invite-accept").disabled = false;
  $("#invite-decline").disabled = false;
  const dialog = $("#invite");
  if (!dialog.open) dialog.showModal();
  $("#invite-accept").focus();
  camera.el.video = $("#invite-preview");
  camera.start().catch((error) => setText($("#invite-camera"), `${error.message} You can still accept and fix it after.`));
}

/** The invite popup, if it shows `inviteId`, closes with `message` (withdrawn, expired). */
function dropInvite(inviteId, message) {
  if (stage.active || stage.inviteId !== inviteId || !$("#invite").open) return;
  $("#invite").close();
  camera.stop();
  toast(message);
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
  if (state === "connected") {
    stageRepublish.cancel();
    stageRepublish.reset();
    setText($("#cohost-error"), "");
    $("#cohost-retry").hidden = true;
  }
  if (state === "failed") {
    setText($("#cohost-error"), "The connection to the studio failed (network or firewall). Reconnecting…");
    $("#cohost-retry").hidden = false;
  }
  room.tryRequest("cohost:media", { state });
  if (state === "failed" || state === "closed") stageReconnect();
}

function stageReconnect() {
  if (!stage.active) return;
  setChip($("#cohost-conn"), "warn", "Reconnecting…");
  stageRepublish.schedule();
}

let stageBusy = false;

async function publishOnStage() {
  if (stageBusy) return;
  stageBusy = true;
  try {
    await publishStage();
  } finally {
    stageBusy = false;
  }
}

async function publishStage() {
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
    const session = await publish(streamId, me.token, camera.stream);
    stage.whip = session;
    session.onState((state) => session === stage.whip && onStageState(state));
  } catch (error) {
    setChip($("#cohost-conn"), "bad", "Not on air");
    setText($("#cohost-error"), `Could not go on air: ${error.message}`);
    $("#cohost-retry").hidden = false;
    room.tryRequest("cohost:media", { state: "failed" });
    if (!["forbidden", "stream_ended"].includes(error.code)) stageRepublish.schedule();
  }
}

async function leaveStage(message) {
  if (!stage.active) return;
  stage.leaving = true;
  stage.active = false;
  stageRepublish.cancel();
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
  .on("stage:media", ({ seat, username, state }) => {
    if (seat === "host") {
      $("#stage").dataset.host = state; // the slate says it on the picture too
      if (stage.active) setText($("#cohost-error"), state === "reconnecting" ? `@${username} is reconnecting…` : "");
    } else if (stage.active && username?.toLowerCase() === me?.username.toLowerCase()) {
      stage.onAir = state === "connected";
      if (!stage.onAir) stageReconnect();
    }
  })
  .on("cohost:invited", (invite) => showInvite(invite))
  .on("cohost:invite_cancelled", ({ invite_id: inviteId, host }) =>
    dropInvite(inviteId, `@${host} withdrew the invite.`))
  .on("cohost:invite_expired", ({ invite_id: inviteId, host }) =>
    dropInvite(inviteId, `The invite from @${host} expired.`))
  .on("cohost:removed", ({ stream_id: sid } = {}) => {
    if (stage.leaving || (sid && sid !== streamId)) return;
    leaveStage("The host moved you back to the audience.");
  })
  .on("cohost:changed", ({ cohost }) => {
    if (stream) applyStream({ ...stream, cohost });
    if (me && role !== "host") {
      role = cohost && cohost.toLowerCase() === me.username.toLowerCase() ? "cohost" : "viewer";
      setSellingRole();
    }
    // (not while our own leave is under way: its ack says "You left the stage.")
    if (stage.active && !stage.leaving && (!cohost || cohost.toLowerCase() !== me?.username.toLowerCase())) {
      leaveStage("The host moved you back to the audience.");
    }
  })
  .on("mention", ({ message }) => {
    if (message?.user && message.stream_id === streamId) toast(`@${message.user} mentioned you`, "info");
  })
  .on("listing:created", ({ listing }) => listings.upsert(listing))
  .on("listing:updated", ({ listing }) => listings.upsert(listing))
  .on("listing:presenting", ({ listing }) => listings.upsert(listing, true))
  .on("chat:pinned", ({ pinned }) => showPinned(pinned))
  .on("chat:settings", ({ slow_mode_seconds: slow }) =>
    toast(slow ? `Slow mode: one message every ${slow} s` : "Slow mode is off", "info"))
  .on("reminder", ({ stream: live }) => live?.id !== streamId && showReminder(live))
  .on("raid", ({ to }) => {
    if (!to) return;
    toast(`@${stream?.host} is raiding @${to.host}: taking you there…`, "ok", 6000);
    setTimeout(() => { location.href = `/watch/${encodeURIComponent(to.id)}`; }, 2500);
  });

// --- start-up --------------------------------------------------------------------------

async function load() {
  renderAccount();
  await syncClock();
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
