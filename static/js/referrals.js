// "My referrals": what each show a sharer shared brought in, order by order.

import { api, currentUser } from "/static/js/api.js";
import { $, formatPrice, formatWhen, h, plural, setText } from "/static/js/ui.js";

function paidText(paid) {
  return paid ? "Paid" : "Not paid yet";
}

function orderItem(order) {
  return h(
    "li",
    { class: "row between referral-order" },
    h("span", {}, `@${order.buyer} · ${formatPrice(order.total_cents, order.currency)} · ${formatWhen(order.created_at)}`),
    h(
      "strong",
      { class: order.paid ? "ok" : "" },
      `+${formatPrice(order.commission_cents, order.currency)} (${order.commission_percent} %)`,
    ),
  );
}

function card(show) {
  return h(
    "li",
    { class: "card", dataset: { streamId: show.stream_id } },
    h(
      "div",
      { class: "card-head row between" },
      h("a", { href: `/watch/${encodeURIComponent(show.stream_id)}` }, h("strong", {}, show.title)),
      h("span", { class: show.paid ? "ok" : "muted" }, paidText(show.paid)),
    ),
    h("p", { class: "muted small" }, `@${show.host} · commission ${show.sharer_commission_percent} %`),
    h(
      "p",
      { class: "referral-stats" },
      `${plural(show.joins, "join", "joins")} · ${plural(show.buyers, "buyer", "buyers")} · `,
      `${plural(show.orders, "order", "orders")} · sales ${formatPrice(show.gmv_cents)} · `,
      h("strong", {}, `commission ${formatPrice(show.commission_cents)}`),
    ),
    show.attributed_orders.length
      ? h("ul", { class: "plain-list", "aria-label": `Orders from your link to ${show.title}` },
          ...show.attributed_orders.map(orderItem))
      : null,
  );
}

async function load() {
  const me = currentUser();
  if (!me) {
    setText($("#page-error"), "Sign in on the home page first.");
    return;
  }
  setText($("#who"), `@${me.username}`);
  const { streams } = await api("GET", "/api/me/referrals");
  const commission = streams.reduce((sum, show) => sum + show.commission_cents, 0);
  const paid = streams.filter((show) => show.paid).reduce((sum, show) => sum + show.commission_cents, 0);
  setText(
    $("#totals"),
    `${plural(streams.length, "show", "shows")} shared · commission ${formatPrice(commission)} · paid ${formatPrice(paid)}`,
  );
  $("#referrals").replaceChildren(
    ...(streams.length
      ? streams.map(card)
      : [h("li", { class: "muted" }, "Nothing yet: share a show from its page.")]),
  );
}

load().catch((error) => setText($("#page-error"), error.message));
