// A buyer's orders across shows, with their shipping state.

import { api, currentUser } from "/static/js/api.js";
import { $, formatPrice, formatWhen, h, setText } from "/static/js/ui.js";

const me = currentUser();
if (!me) {
  setText($("#page-error"), "Sign in on the home page first.");
} else {
  setText($("#who"), `@${me.username}`);
  Promise.all([api("GET", "/api/me/orders"), api("GET", "/api/me/profile")])
    .then(([{ orders }, profile]) => {
      $("#no-address").hidden = Boolean(profile.address);
      $("#orders").replaceChildren(
        ...orders.map((order) =>
          h(
            "li",
            { class: "card" },
            h("div", { class: "card-head row between" },
              h("strong", {}, `${order.quantity} × ${order.item_title || order.listing_id}`),
              h("span", {}, formatPrice(order.total_cents, order.currency))),
            h("p", { class: "muted small" }, `${order.stream_title || "Show"} · sold by @${order.seller} · ${formatWhen(order.created_at)}`),
            order.discount_code ? h("p", { class: "small" }, `Code ${order.discount_code}: −${formatPrice(order.discount_cents, order.currency)}`) : null,
            h("p", { class: order.label ? "label-state ok" : "label-state muted" },
              order.label ? `Shipping label ${order.label.tracking}` : "Awaiting a shipping label"),
          ),
        ),
      );
      if (!orders.length) $("#orders").replaceChildren(h("li", { class: "muted" }, "No orders yet."));
    })
    .catch((error) => setText($("#page-error"), error.message));
}
