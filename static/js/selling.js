// Selling formats on the pages: the auction on stage, giveaways, checkout with a code,
// and the studio's panels (codes, giveaways, per-listing auction and flash controls).

import { api } from "/static/js/api.js";
import { serverClock, timeLeft } from "/static/js/clock.js";
import { fill, formatPrice, h, setText, toast } from "/static/js/ui.js";

const same = (a, b) => Boolean(a && b) && a.toLowerCase() === b.toLowerCase();
const money = (cents) => formatPrice(cents, "USD");
const dollarsToCents = (text) => Math.round(Number(String(text).replace(",", ".")) * 100);
const countdown = (endsAtMs, attrs = {}) =>
  h("span", { ...attrs, dataset: { endsAtMs: String(endsAtMs) } }, timeLeft(endsAtMs));

/**
 * The auction on stage. Viewers bid ("Bid $X" = the next minimum, or a custom maximum
 * handled by the server's proxy); host and cohost only watch it.
 */
export class AuctionPanel {
  /** `onRunning(auction | null)`: called when an auction starts running or stops. */
  constructor(root, { room, me, titleOf, canBid, onRunning }) {
    Object.assign(this, { root, room, me, titleOf, canBid, onRunning });
    this.auction = null;
    this.bidOn = null; // the listing this viewer has bid on
    this.won = null; // our order, when we won
  }

  show(auction, order = null) {
    if (!auction) return;
    if (this.auction?.listing_id !== auction.listing_id) {
      this.won = null;
      if (auction.status === "running") this.bidOn = null;
    }
    const wasRunning = this.running()?.listing_id ?? null;
    this.auction = auction;
    if (order && same(order.buyer, this.me())) this.won = order;
    this.render();
    if ((this.running()?.listing_id ?? null) !== wasRunning) this.onRunning?.(this.running());
  }

  /** The auction running now, or null. */
  running() {
    return this.auction?.status === "running" ? this.auction : null;
  }

  hideIfIdle() {
    if (!this.auction || this.auction.status === "running") return;
    this.root.hidden = true;
  }

  state() {
    const a = this.auction;
    const me = this.me();
    if (a.status === "sold") return same(a.high_bidder, me) ? ["won", "You won!"] : ["sold", `Sold to @${a.high_bidder}`];
    if (a.status === "unsold") return ["unsold", "No sale"];
    if (me && same(a.high_bidder, me)) return ["winning", "You're winning"];
    if (me && this.bidOn === a.listing_id) return ["outbid", "Outbid"];
    return ["open", a.high_bidder ? `@${a.high_bidder} leads` : "No bids yet"];
  }

  render() {
    const a = this.auction;
    const [state, label] = this.state();
    const running = a.status === "running";
    const bidButton = h(
      "button",
      { type: "button", class: "btn btn-primary btn-bid", id: "bid-next", onclick: () => this.bid(a.min_next_cents) },
      `Bid ${money(a.min_next_cents)}`,
    );
    const maxInput = h("input", {
      id: "bid-max", inputmode: "decimal", pattern: "\\d+([.,]\\d{1,2})?", placeholder: (a.min_next_cents / 100).toFixed(2),
      "aria-label": "Your maximum bid in dollars",
    });
    const maxForm = h(
      "form",
      { class: "bid-max-form", "aria-label": "Custom max bid" },
      h("label", { class: "field" }, "Custom max bid", maxInput),
      h("button", { type: "submit", class: "btn", id: "bid-max-submit" }, "Set max bid"),
    );
    maxForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const max = dollarsToCents(maxInput.value);
      if (!(max >= a.min_next_cents)) {
        toast(`Your maximum must be at least ${money(a.min_next_cents)}.`, "error");
        return;
      }
      this.bid(a.min_next_cents, max);
    });
    this.root.hidden = false;
    this.root.dataset.state = state;
    fill(this.root, [
      h("p", { class: "eyebrow" }, running ? (a.sudden_death ? "Live auction · sudden death" : "Live auction") : "Auction over"),
      h("h2", { class: "auction-title" }, this.titleOf(a.listing_id) || "Auction"),
      h(
        "div",
        { class: "auction-row" },
        running ? countdown(a.ends_at_ms, { class: "auction-clock", id: "auction-clock", role: "timer", "aria-label": "Time left" }) : null,
        h(
          "div",
          { class: "auction-bid" },
          h("span", { class: "muted" }, a.high_bid_cents === null ? "Starting bid" : running ? "Current bid" : "Winning bid"),
          h("strong", { id: "auction-high" }, money(a.high_bid_cents ?? a.min_next_cents)),
          h("span", { class: "muted" }, `${a.bid_count} ${a.bid_count === 1 ? "bid" : "bids"}`),
        ),
      ),
      h("p", { class: "auction-state", id: "auction-state", role: "status", "aria-live": "polite", dataset: { state } }, label),
      this.won
        ? h(
          "p",
          { class: "auction-order", id: "auction-order" },
          `Your order: ${money(this.won.total_cents)} — the host will ship it to you. `,
          h("a", { href: "/me/orders", target: "_blank", rel: "noopener" }, "See my orders"),
        )
        : null,
      running && this.canBid() ? h("div", { class: "auction-actions" }, bidButton, maxForm) : null,
    ]);
  }

  async bid(amount, max) {
    if (!this.me()) {
      toast("Sign in to bid.", "info");
      return;
    }
    const payload = { listing_id: this.auction.listing_id, amount_cents: amount };
    if (max !== undefined) payload.max_cents = max;
    try {
      this.bidOn = this.auction.listing_id;
      const { auction } = await this.room.request("auction:bid", payload);
      this.show(auction);
    } catch (error) {
      toast(error.code === "bid_too_low" ? "Someone bid first — try the new amount." : error.message, "error");
    }
  }
}

/** The open or last giveaway: enter it, see the winner, verify the draw. */
export class GiveawayPanel {
  constructor(root, { room, me, canEnter }) {
    Object.assign(this, { root, room, me, canEnter });
    this.giveaway = null;
    this.entered = new Set();
  }

  show(giveaway) {
    if (!giveaway) return;
    this.giveaway = giveaway;
    this.render();
  }

  render() {
    const g = this.giveaway;
    const open = g.status === "open";
    const me = this.me();
    const entered = this.entered.has(g.id);
    let result = null;
    if (!open) {
      result = g.winner
        ? h("p", { class: "giveaway-result", id: "giveaway-result" }, same(g.winner, me) ? "You won the giveaway!" : `Winner: @${g.winner}`)
        : h("p", { class: "giveaway-result", id: "giveaway-result" }, "No winner: nobody present entered.");
    }
    this.root.hidden = false;
    fill(this.root, [
      h("p", { class: "eyebrow" }, open ? "Giveaway" : "Giveaway drawn"),
      h("h2", {}, g.title),
      h(
        "div",
        { class: "row" },
        open ? countdown(g.ends_at_ms, { class: "giveaway-clock", role: "timer", "aria-label": "Time left to enter" }) : null,
        h("span", { class: "muted", id: "giveaway-count" }, `${g.entrant_count} ${g.entrant_count === 1 ? "entrant" : "entrants"}`),
        g.eligibility === "buyers" ? h("span", { class: "chip" }, "Buyers only") : null,
      ),
      open && this.canEnter()
        ? h(
            "button",
            { type: "button", class: "btn btn-primary", id: "giveaway-enter", disabled: entered, onclick: () => this.enter() },
            entered ? "You're in" : "Enter giveaway",
          )
        : null,
      result,
      open
        ? h("p", { class: "muted small" }, `Fair draw: commitment ${g.commitment.slice(0, 16)}…`)
        : h("a", { href: `/giveaways/${encodeURIComponent(g.id)}`, id: "giveaway-verify", target: "_blank", rel: "noopener" }, "Verify the draw (seed and entrants)"),
    ]);
  }

  async enter() {
    if (!this.me()) {
      toast("Sign in to enter.", "info");
      return;
    }
    try {
      const { giveaway } = await this.room.request("giveaway:enter", { giveaway_id: this.giveaway.id });
      this.entered.add(giveaway.id);
      this.show(giveaway);
    } catch (error) {
      toast(error.code === "not_eligible" ? "This giveaway is for buyers in this show." : error.message, "error");
    }
  }
}

/**
 * Checkout: one item, an optional live code, the price (and discount) shown by a
 * server quote before the buyer confirms. Resolves the order, or null when cancelled.
 */
export function checkout(listing) {
  return new Promise((resolve) => {
    const code = h("input", { id: "checkout-code", autocomplete: "off", maxlength: 20, "aria-label": "Discount code" });
    const summary = h("p", { id: "checkout-summary", role: "status", "aria-live": "polite" });
    const error = h("p", { class: "form-error", role: "alert", id: "checkout-error" });
    const confirm = h("button", { type: "button", class: "btn btn-primary", id: "checkout-confirm" }, "Confirm purchase");
    const dialog = h(
      "dialog",
      { class: "dialog checkout", "aria-labelledby": "checkout-title" },
      h("h2", { id: "checkout-title" }, listing.title),
      summary,
      h("form", { class: "row", id: "checkout-code-form" },
        h("label", { class: "field" }, "Live code", code),
        h("button", { type: "submit", class: "btn btn-small", id: "checkout-apply" }, "Apply")),
      error,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", class: "btn", id: "checkout-cancel" }, "Cancel"),
        confirm),
    );
    const body = () => (code.value.trim() ? { quantity: 1, discount_code: code.value.trim() } : { quantity: 1 });
    const quote = async () => {
      setText(error, "");
      try {
        const { quote: q } = await api("POST", `/api/listings/${encodeURIComponent(listing.id)}/quote`, body());
        const parts = [`Price ${money(q.unit_price_cents * q.quantity)}`];
        if (q.discount_cents) parts.push(`Code ${q.discount_code}: −${money(q.discount_cents)}`);
        parts.push(`Total ${money(q.total_cents)}`);
        setText(summary, parts.join(" · "));
        return true;
      } catch (failure) {
        setText(error, failure.message);
        return false;
      }
    };
    const done = (order) => {
      dialog.close();
      dialog.remove();
      resolve(order);
    };
    dialog.querySelector("#checkout-code-form").addEventListener("submit", (event) => {
      event.preventDefault();
      quote();
    });
    dialog.querySelector("#checkout-cancel").addEventListener("click", () => done(null));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      done(null);
    });
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        const { order } = await api("POST", `/api/listings/${encodeURIComponent(listing.id)}/buy`, body());
        done(order);
      } catch (failure) {
        setText(error, failure.code === "sold_out" ? "Sorry, that just sold out." : failure.message);
        confirm.disabled = false;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    quote();
    // Not the code field: on a phone that would raise the keyboard for the many buyers
    // with no code; Cancel, as in every confirmation, so a stray Enter buys nothing.
    dialog.querySelector("#checkout-cancel").focus();
  });
}

// Listing cards are re-rendered on every listing event: the tools' open state and typed
// values live here, keyed by listing and tool, so a re-render never loses them.
const toolState = new Map();

function tool(key, summary, fields, onGo) {
  const state = toolState.get(key) || { open: false, values: {} };
  toolState.set(key, state);
  for (const [name, input] of Object.entries(fields)) {
    const prop = input.type === "checkbox" ? "checked" : "value";
    if (name in state.values) input[prop] = state.values[name];
    input.addEventListener("input", () => { state.values[name] = input[prop]; });
    input.addEventListener("change", () => { state.values[name] = input[prop]; });
  }
  const details = h("details", { class: "listing-tool", open: state.open },
    h("summary", { onclick: () => { state.open = !details.open; } }, summary),
    ...Object.values(fields).map((input) =>
      h("label", { class: input.type === "checkbox" ? "field field-inline" : "field" },
        input.type === "checkbox" ? [input, input.dataset.label] : [input.dataset.label, input])),
    h("button", { type: "button", class: "btn btn-small btn-primary", onclick: async () => {
      if (await onGo()) {
        state.open = false;
        state.values = {};
        details.open = false;
      }
    } }, "Start"));
  return details;
}

async function attempt(what, call) {
  try {
    await call();
    return true;
  } catch (error) {
    toast(`Could not start the ${what}: ${error.message}`, "error");
    return false;
  }
}

/**
 * Per-listing controls for host and cohost: start an auction, or a flash sale (host).
 * While `running` (the stream's running auction, or null) is this listing's, its card
 * shows the running auction instead of "Start auction".
 */
export function listingActions(listing, { flash, running = null }) {
  if (listing.status !== "active") return [];
  const path = `/api/listings/${encodeURIComponent(listing.id)}`;
  if (listing.format === "auction" && running?.listing_id === listing.id) {
    return [h("p", { class: "auction-running", role: "status", dataset: { listing: listing.id } },
      "Auction running (bids and time left in the auction panel)")];
  }
  if (listing.format === "auction") {
    const seconds = h("input", { type: "number", min: 5, max: 300, value: listing.auction_seconds, class: "auction-seconds", dataset: { label: "Seconds" } });
    const sudden = h("input", { type: "checkbox", class: "auction-sudden", dataset: { label: "Sudden death" } });
    return [tool(`${listing.id}:auction`, "Start auction", { seconds, sudden }, () =>
      attempt("auction", () => api("POST", `${path}/auction/start`, { seconds: Number(seconds.value), sudden_death: sudden.checked })))];
  }
  if (!flash) return [];
  const price = h("input", { inputmode: "decimal", placeholder: ((listing.price_cents * 0.8) / 100).toFixed(2), class: "flash-price", dataset: { label: "Price $" } });
  const seconds = h("input", { type: "number", min: 5, max: 3600, value: 60, class: "flash-seconds", dataset: { label: "Seconds" } });
  return [tool(`${listing.id}:flash`, "Flash sale", { price, seconds }, () =>
    attempt("flash sale", () => api("POST", `${path}/flash`, { price_cents: dollarsToCents(price.value), seconds: Number(seconds.value) })))];
}

/** The host's live codes: create, and see uses left. */
export class CodesPanel {
  constructor(root, streamId) {
    Object.assign(this, { root, streamId });
    this.list = h("ul", { class: "plain-list", id: "codes-list" });
    const field = (label, input) => h("label", { class: "field" }, label, input);
    const code = h("input", { id: "code-text", required: true, maxlength: 20, placeholder: "LIVE10" });
    const kind = h("select", { id: "code-kind" }, h("option", { value: "percent" }, "% off"), h("option", { value: "amount" }, "$ off"));
    const amount = h("input", { id: "code-amount", required: true, inputmode: "decimal", placeholder: "10" });
    const uses = h("input", { id: "code-uses", type: "number", min: 1, value: 10, required: true });
    const form = h("form", { class: "listing-form", "aria-label": "Create a live code" },
      field("Code", code), field("Type", kind), field("Off", amount), field("Max uses", uses),
      h("button", { type: "submit", class: "btn btn-small btn-primary", id: "code-submit" }, "Create code"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { code: code.value.trim(), max_uses: Number(uses.value) };
      if (kind.value === "percent") body.percent_off = Number(amount.value);
      else body.amount_off_cents = dollarsToCents(amount.value);
      try {
        await api("POST", `/api/streams/${streamId}/codes`, body);
        form.reset();
        await this.refresh();
      } catch (error) {
        toast(`Could not create the code: ${error.message}`, "error");
      }
    });
    root.append(h("h2", { class: "panel-title" }, "Live codes"), this.list, form);
  }

  async refresh() {
    try {
      const { codes } = await api("GET", `/api/streams/${this.streamId}/codes`);
      this.list.replaceChildren(...codes.map((c) => h("li", { dataset: { code: c.code } },
        h("strong", {}, c.code), " ",
        c.percent_off ? `${c.percent_off}% off` : `${money(c.amount_off_cents)} off`, " · ",
        h("span", { class: "code-left" }, `${c.uses_left} of ${c.max_uses} left`))));
    } catch {}
  }
}

/** The host's giveaway form and the running giveaway (entrants live, then the winner). */
export class GiveawayForm {
  constructor(root, streamId, panel) {
    const field = (label, input) => h("label", { class: "field" }, label, input);
    const title = h("input", { id: "giveaway-title", required: true, maxlength: 120, placeholder: "Signed poster" });
    const seconds = h("input", { id: "giveaway-seconds", type: "number", min: 10, max: 600, value: 60, required: true });
    const who = h("select", { id: "giveaway-eligibility" }, h("option", { value: "everyone" }, "Everyone"), h("option", { value: "buyers" }, "Buyers only"));
    const form = h("form", { class: "listing-form", "aria-label": "Start a giveaway" },
      field("Prize", title), field("Seconds", seconds), field("Who may enter", who),
      h("button", { type: "submit", class: "btn btn-small btn-primary", id: "giveaway-submit" }, "Start giveaway"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const { giveaway } = await api("POST", `/api/streams/${streamId}/giveaways`, { title: title.value.trim(), seconds: Number(seconds.value), eligibility: who.value });
        form.reset();
        panel.show(giveaway);
      } catch (error) {
        toast(`Could not start the giveaway: ${error.message}`, "error");
      }
    });
    root.append(h("h2", { class: "panel-title" }, "Giveaway"), form);
  }
}

/** Wire the selling events of a room to the panels. */
export function followSelling(room, { auction, giveaway, onOrder }) {
  room
    .on("auction:started", ({ auction: a }) => auction.show(a))
    .on("auction:updated", ({ auction: a }) => auction.show(a))
    .on("auction:outbid", ({ auction: a }) => {
      auction.show(a);
      toast("You've been outbid!", "info");
    })
    .on("auction:ended", ({ auction: a, order }) => auction.show(a, order))
    .on("giveaway:started", ({ giveaway: g }) => giveaway.show(g))
    .on("giveaway:updated", ({ giveaway: g }) => giveaway.show(g))
    .on("giveaway:ended", ({ giveaway: g }) => giveaway.show(g))
    .on("order:created", ({ order }) => onOrder?.(order));
}

/** After a (re)join: sync the clock and show what is running. */
export function applySellingAck(ack, { auction, giveaway }) {
  serverClock.sync(ack.now_ms);
  if (ack.auction) auction.show(ack.auction);
  if (ack.giveaway) giveaway.show(ack.giveaway);
}
