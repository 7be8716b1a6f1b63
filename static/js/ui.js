// Small DOM helpers shared by every page. Text always goes in as text nodes.

import { serverClock, timeLeft } from "/static/js/clock.js";

/** h("button", {class: "btn", onclick}, "Label", child...) */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, String(value));
    }
  }
  return fill(node, ...children);
}

/** Replace `node`'s children, skipping null/undefined/false as `h` does (the DOM's own
 * replaceChildren would print them as text, "null"). */
export function fill(node, ...children) {
  node.replaceChildren();
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Replace an element's content with plain text. */
export function setText(node, text) {
  node.textContent = text ?? "";
}

let toastRegion = null;
const MAX_TOASTS = 3;

/** A transient announcement (aria-live). kind: "info" | "error" | "ok". */
export function toast(message, kind = "info", ms = 4000) {
  if (!toastRegion) {
    toastRegion = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastRegion);
  }
  const item = h("div", { class: `toast toast-${kind}` }, message);
  toastRegion.append(item);
  // A quick run of actions must not bury the page under notes: the newest few stay.
  while (toastRegion.childElementCount > MAX_TOASTS) toastRegion.firstElementChild.remove();
  setTimeout(() => item.remove(), ms);
  return item;
}

export function formatElapsed(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return hours ? `${hours}:${pad(minutes)}:${pad(seconds)}` : `${pad(minutes)}:${pad(seconds)}`;
}

export function formatWhen(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString(undefined, {
    weekday: "short",
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
  });
}

export function formatPrice(cents, currency = "USD") {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

export function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * The LIVE badge: status text, elapsed time since `started_at`, viewer count.
 * Expects elements #status, #elapsed and #viewer-count inside `root`.
 */
export class LiveBadge {
  constructor(root) {
    this.root = root;
    this.status = $("#status", root);
    this.elapsed = $("#elapsed", root);
    this.viewers = $("#viewer-count", root) || $("#viewer-count");
    this.timer = null;
    this.startedAt = null;
  }

  set(state, text) {
    this.root.dataset.state = state; // offline | connecting | live | ended
    setText(this.status, text);
    if (this.viewers) this.viewers.hidden = state === "ended";
    if (state === "live") {
      this.timer ??= setInterval(() => this.tick(), 1000);
      this.tick();
    } else {
      clearInterval(this.timer);
      this.timer = null;
      setText(this.elapsed, "");
    }
  }

  live(startedAt) {
    this.startedAt = startedAt ? new Date(startedAt).getTime() : Date.now();
    this.set("live", "LIVE");
  }

  tick() {
    setText(this.elapsed, formatElapsed(Date.now() - (this.startedAt ?? Date.now())));
  }

  setViewers(count) {
    if (!this.viewers || typeof count !== "number") return;
    setText(this.viewers, plural(count, "watching", "watching"));
    this.viewers.setAttribute("aria-label", plural(count, "viewer", "viewers"));
  }
}

/** A connection chip: state is one of idle | connecting | ok | warn | bad. */
export function setChip(node, state, text) {
  if (!node) return;
  node.dataset.state = state;
  setText(node, text);
}

/** One line of a checklist: ✓ or ✗, what was checked, and what was found. */
export function checkItem({ id, ok, name, detail }) {
  return h("li", { class: "check", dataset: { ok: String(ok) }, id },
    h("span", { class: "check-mark", "aria-hidden": "true" }, ok ? "✓" : "✗"),
    h("span", { class: "check-name" }, name),
    h("span", { class: "visually-hidden" }, ok ? " — yes: " : " — no: "),
    h("span", { class: "check-detail muted" }, detail));
}

/** A modal confirmation built on <dialog>; resolves true when confirmed. */
export function confirmDialog({ title, body, confirm = "OK", cancel = "Cancel", danger = false }) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      body ? h("p", {}, body) : null,
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "button", class: "btn", value: "cancel", id: "confirm-cancel" }, cancel),
        h(
          "button",
          { type: "button", class: danger ? "btn btn-danger" : "btn btn-primary", id: "confirm-ok" },
          confirm,
        ),
      ),
    );
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.querySelector("#confirm-ok").addEventListener("click", () => done(true));
    dialog.querySelector("#confirm-cancel").addEventListener("click", () => done(false));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector("#confirm-cancel").focus();
  });
}

/**
 * An inline sign-in / sign-up form. `onSubmit(username, password, register)`
 * returns a promise; its rejection message is shown in the form.
 */
export function authForm({ onSubmit, idPrefix = "auth", intro = "" }) {
  let register = false;
  const error = h("p", { class: "form-error", role: "alert", id: `${idPrefix}-error` });
  const submit = h("button", { type: "submit", class: "btn btn-primary", id: `${idPrefix}-submit` }, "Sign in");
  const toggle = h("button", { type: "button", class: "btn-link", id: `${idPrefix}-toggle` }, "New here? Create an account");
  const title = h("h2", { class: "auth-title" }, "Sign in");
  const password = h("input", {
    name: "password",
    type: "password",
    id: `${idPrefix}-password`,
    autocomplete: "current-password",
    required: true,
    minlength: 1,
  });
  const form = h(
    "form",
    { class: "auth-form", id: `${idPrefix}-form`, novalidate: false },
    title,
    intro ? h("p", { class: "muted" }, intro) : null,
    h("label", { for: `${idPrefix}-username` }, "Username"),
    h("input", {
      name: "username",
      id: `${idPrefix}-username`,
      autocomplete: "username",
      required: true,
      pattern: "[A-Za-z0-9_]{3,30}",
      title: "3 to 30 letters, digits or _",
    }),
    h("label", { for: `${idPrefix}-password` }, "Password"),
    password,
    error,
    h("div", { class: "auth-actions" }, submit, toggle),
  );
  toggle.addEventListener("click", () => {
    register = !register;
    setText(title, register ? "Create an account" : "Sign in");
    setText(submit, register ? "Sign up" : "Sign in");
    setText(toggle, register ? "Have an account? Sign in" : "New here? Create an account");
    password.autocomplete = register ? "new-password" : "current-password";
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    setText(error, "");
    submit.disabled = true;
    try {
      await onSubmit(String(data.get("username")).trim(), String(data.get("password")), register);
    } catch (failure) {
      setText(error, failure.message || "Could not sign in");
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** The listings strip: cards of what is on sale, the presented one highlighted. */
const JUST_SOLD_MS = 2500;

export class ListingsPanel {
  /** `actions(listing)`: extra controls for a card (auction and flash-sale tools). */
  constructor(root, { onBuy, onPresent, actions } = {}) {
    this.root = root;
    this.onBuy = onBuy;
    this.onPresent = onPresent;
    this.actions = actions;
    this.items = new Map();
    this.presenting = null;
    this.list = h("ul", { class: "listings-list", "aria-live": "polite" });
    this.empty = h("p", { class: "muted listings-empty" }, "No items listed yet.");
    root.append(h("h2", { class: "panel-title" }, "Shop the show"), this.empty, this.list);
  }

  setAll(listings) {
    this.items.clear();
    for (const listing of listings || []) this.items.set(listing.id, listing);
    this.render();
  }

  upsert(listing, presenting = false) {
    if (!listing?.id) return;
    // Fewer left than before: someone just bought (or won) one. The card says so for
    // a moment, the nudge a rush runs on.
    const before = this.items.get(listing.id)?.remaining;
    if (typeof before === "number" && listing.remaining < before) this.flashSold(listing.id);
    this.items.set(listing.id, listing);
    if (presenting) this.presenting = listing.id;
    this.render();
  }

  flashSold(id) {
    this.justSold ??= new Map();
    clearTimeout(this.justSold.get(id));
    this.justSold.set(id, setTimeout(() => {
      this.justSold.delete(id);
      this.list.querySelector(`[data-id="${CSS.escape(id)}"]`)?.removeAttribute("data-just-sold");
    }, JUST_SOLD_MS));
  }

  render() {
    this.list.replaceChildren();
    this.empty.hidden = this.items.size > 0;
    for (const listing of this.items.values()) {
      const soldOut = listing.status === "sold_out" || listing.remaining === 0;
      const auction = listing.format === "auction";
      const currency = listing.currency || "USD";
      const flash = listing.flash && listing.flash.ends_at_ms > serverClock.now() ? listing.flash : null;
      const card = h(
        "li",
        {
          class: "listing",
          dataset: { id: listing.id, presenting: String(listing.id === this.presenting) },
          "data-just-sold": this.justSold?.has(listing.id) || null,
        },
        listing.id === this.presenting ? h("span", { class: "listing-flag" }, "Now showing") : null,
        h("span", { class: "listing-title" }, listing.title),
        h(
          "span",
          { class: "listing-price" },
          flash
            ? [h("s", { class: "muted" }, formatPrice(listing.price_cents, currency)), " ", formatPrice(flash.price_cents, currency)]
            : formatPrice(listing.price_cents, currency),
        ),
        flash
          ? h("span", { class: "listing-flash" }, "Flash sale · ", h("span", { dataset: { endsAtMs: String(flash.ends_at_ms) } }, timeLeft(flash.ends_at_ms)))
          : null,
        auction ? h("span", { class: "listing-flag" }, soldOut ? "Auction · sold" : "Auction") : null,
        h(
          "span",
          { class: "listing-stock muted" },
          soldOut ? "Sold out" : `${listing.remaining ?? listing.quantity} left`,
        ),
        this.onBuy && !soldOut && !auction
          ? h(
              "button",
              { type: "button", class: "btn btn-small btn-primary", onclick: () => this.onBuy(listing) },
              "Buy",
            )
          : null,
        this.onPresent && !soldOut && listing.id !== this.presenting
          ? h(
              "button",
              { type: "button", class: "btn btn-small", onclick: () => this.onPresent(listing) },
              "Present",
            )
          : null,
        this.actions ? this.actions(listing) : null,
      );
      this.list.append(card);
    }
  }
}

/** The sticky top bar's height as `--topbar-h`, kept current (it wraps to two rows on
 * narrower screens): sticky side columns sit just below it instead of under it. */
function trackTopbarHeight() {
  const bar = document.querySelector(".topbar");
  if (!bar || typeof ResizeObserver === "undefined") return;
  const set = () => document.documentElement.style.setProperty("--topbar-h", `${bar.offsetHeight}px`);
  new ResizeObserver(set).observe(bar);
  set();
}
trackTopbarHeight();
