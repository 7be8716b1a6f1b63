// Show lifecycle widgets shared by the pages: covers, countdowns, "Remind me", "Share",
// and site-wide reminders (a `reminder` event on every connection of a subscriber).

import { api, currentUser } from "/static/js/api.js";
import { openSocket } from "/static/js/socket.js";
import { formatWhen, h, setText, toast } from "/static/js/ui.js";

/** The cover picture, or a gradient placeholder carrying the title's first letter. */
export function cover(stream, className = "cover") {
  if (stream.cover_url) {
    return h("img", { class: className, src: stream.cover_url, alt: "", loading: "lazy" });
  }
  return h("div", { class: `${className} cover-empty`, "aria-hidden": "true" }, (stream.title || "?")[0]);
}

/** "in 2 d 3 h", "in 04:12", or "any moment now", counted against the server's clock. */
export function countdownText(targetMs, nowMs) {
  const left = Math.max(0, Math.floor((targetMs - nowMs) / 1000));
  if (left <= 0) return "Any moment now";
  const days = Math.floor(left / 86400);
  const hours = Math.floor((left % 86400) / 3600);
  const minutes = Math.floor((left % 3600) / 60);
  const seconds = left % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (days) return `Starts in ${days} d ${hours} h`;
  if (hours) return `Starts in ${hours} h ${pad(minutes)} min`;
  return `Starts in ${pad(minutes)}:${pad(seconds)}`;
}

/** Server time minus local time, from a response's Date header (second precision). */
let clockSkew = 0;
export async function syncClock() {
  try {
    const response = await fetch("/healthz", { cache: "no-store" });
    const server = Date.parse(response.headers.get("Date"));
    if (!Number.isNaN(server)) clockSkew = server - Date.now();
  } catch {
    clockSkew = 0;
  }
}
export const serverNow = () => Date.now() + clockSkew;

/** Keep `node` showing the countdown to `stream.scheduled_at_ms`; returns a stop function. */
export function startCountdown(node, stream) {
  if (!stream.scheduled_at_ms) {
    setText(node, "The host will go live shortly");
    return () => {};
  }
  const tick = () => setText(node, countdownText(stream.scheduled_at_ms, serverNow()));
  tick();
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}

/** A "Remind me" toggle button; signs-in are required (onNeedSignIn is called). */
export function remindButton(stream, { reminded = false, onNeedSignIn } = {}) {
  const button = h("button", { type: "button", class: "btn btn-remind", "aria-pressed": "false" });
  let on = reminded;
  const render = (count) => {
    button.setAttribute("aria-pressed", String(on));
    button.classList.toggle("btn-primary", !on);
    setText(button, on ? `Reminder set${count ? ` · ${count}` : ""}` : `Remind me${count ? ` · ${count}` : ""}`);
  };
  render(stream.reminders);
  button.addEventListener("click", async () => {
    if (!currentUser()) {
      onNeedSignIn?.();
      toast("Sign in to get a reminder when the show starts", "info");
      return;
    }
    button.disabled = true;
    try {
      const { reminders } = await api(on ? "DELETE" : "POST", `/api/streams/${stream.id}/reminder`);
      on = !on;
      render(reminders);
      toast(on ? "We'll remind you when it starts" : "Reminder removed", "ok");
    } catch (error) {
      toast(error.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  if (currentUser() && !reminded) {
    api("GET", `/api/streams/${stream.id}/reminder`)
      .then((state) => { on = state.reminded; render(state.reminders); })
      .catch(() => {});
  }
  return button;
}

/** "Share": copy the watch link, download the poster. */
export function shareBox(stream) {
  const url = `${location.origin}/watch/${encodeURIComponent(stream.id)}`;
  const copy = h("button", { type: "button", class: "btn" }, "Copy link");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(url);
      toast("Link copied", "ok");
    } catch {
      window.prompt("Copy this link", url);
    }
  });
  const poster = h(
    "a",
    { class: "btn", href: `/api/streams/${encodeURIComponent(stream.id)}/poster.png`, download: `costream-${stream.id}.png` },
    "Download poster",
  );
  return h("div", { class: "row share", role: "group", "aria-label": "Share" }, copy, poster);
}

/** A card for the home page: cover, title, host, time or LIVE, and an action. */
export function showCard(stream, { onNeedSignIn } = {}) {
  const href = `/watch/${encodeURIComponent(stream.id)}`;
  const live = stream.status === "live";
  return h(
    "article",
    { class: "show-card", dataset: { status: stream.status } },
    h("a", { href, class: "show-card-cover", "aria-label": `Watch ${stream.title}` },
      cover(stream), live ? h("span", { class: "card-live" }, "LIVE") : null),
    h("div", { class: "show-card-body" },
      h("h3", {}, h("a", { href }, stream.title)),
      h("p", { class: "muted" }, `@${stream.host}`,
        live ? ` · ${stream.viewers} watching` : stream.scheduled_at ? ` · ${formatWhen(stream.scheduled_at)}` : ""),
      live ? h("a", { class: "btn btn-live btn-small", href }, "Watch now")
        : remindButton(stream, { onNeedSignIn })),
  );
}

/** Listen for `reminder` on this page's own connection (pages without a room). */
export async function listenForReminders(token, onReminder = () => {}) {
  if (!token) return null;
  try {
    const socket = await openSocket({ auth: { token } });
    socket.on("reminder", ({ stream }) => {
      showReminder(stream);
      onReminder(stream);
    });
    return socket;
  } catch {
    return null;
  }
}

/** The reminder toast: who is live, with a link to watch. */
export function showReminder(stream) {
  if (!stream) return;
  const item = toast(`@${stream.host} is live: ${stream.title}`, "ok", 15000);
  item.classList.add("toast-reminder");
  item.append(" ", h("a", { href: `/watch/${encodeURIComponent(stream.id)}`, class: "btn btn-small btn-live" }, "Watch"));
}
