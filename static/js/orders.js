// The host's "Orders & shipping" page for one show: bundles and splits, labels and
// their documents, mailing a consignor, the payout and the share with the cohost.

import { api, currentUser } from "/static/js/api.js";
import { $, formatPrice, h, plural, setText, toast } from "/static/js/ui.js";

const streamId = decodeURIComponent(location.pathname.split("/")[2] || "");
const base = `/api/streams/${encodeURIComponent(streamId)}`;
let page = null;
let lastSkipped = []; // from the last "Create labels"

function sender(consignor) {
  return consignor ? `@${consignor}` : "you (host)";
}

function addressLines(address) {
  return [
    address.name,
    address.line1,
    address.line2,
    `${address.postal_code} ${address.city}`,
    address.region,
    address.country,
  ].filter(Boolean);
}

/** Run a page action: disable its button meanwhile, show failures, reload on success. */
async function act(button, work, done) {
  button.disabled = true;
  let result;
  try {
    result = await work();
  } catch (error) {
    toast(error.message, "error", 6000);
    setText($("#page-error"), error.message);
    button.disabled = false;
    return;
  }
  button.disabled = false;
  if (done) toast(done(result), "ok");
  await load(); // re-renders, and with it each button's state
}

/** Fetch a document with the bearer token and hand it to the browser as a download. */
async function download(button, path, filename) {
  await act(button, async () => {
    const response = await fetch(path, {
      headers: { Authorization: `Bearer ${currentUser()?.token}` },
    });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      throw new Error(data.error?.message || `HTTP ${response.status}`);
    }
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  });
}

function renderReturnAddress() {
  const address = page.return_address;
  $("#return-body").replaceChildren(
    address
      ? h("address", { class: "address" }, ...addressLines(address).map((line) => h("div", {}, line)))
      : h(
          "p",
          { class: "warning" },
          "No return address yet: labels cannot be made. ",
          h("a", { href: "/me/profile" }, "Add it in your profile"),
          ".",
        ),
  );
}

function orderTitle(orderId) {
  const order = page.orders.find((o) => o.id === orderId);
  return order ? `${order.quantity} × ${order.item_title || order.listing_id}` : orderId;
}

function renderShipments() {
  const list = $("#shipments");
  list.replaceChildren(
    ...page.shipments.map((shipment) => {
      const splittable = !shipment.label && shipment.order_ids.length > 1;
      return h(
        "li",
        { class: "card", dataset: { shipment: shipment.id } },
        h(
          "div",
          { class: "card-head" },
          h("strong", {}, `@${shipment.buyer}`),
          h("span", { class: "muted" }, ` · ships from ${sender(shipment.consignor)}`),
        ),
        h(
          "ul",
          { class: "plain-list" },
          ...shipment.order_ids.map((orderId) =>
            h(
              "li",
              { class: "row between" },
              h("span", {}, orderTitle(orderId)),
              splittable
                ? h(
                    "button",
                    {
                      type: "button",
                      class: "btn btn-small",
                      "aria-label": `Ship ${orderTitle(orderId)} separately`,
                      onclick: (event) =>
                        act(
                          event.currentTarget,
                          () =>
                            api("POST", `/api/shipments/${encodeURIComponent(shipment.id)}/split`, {
                              order_ids: [orderId],
                            }),
                          () => "Bundle split: that item ships on its own.",
                        ),
                    },
                    "Ship separately",
                  )
                : null,
            ),
          ),
        ),
        h(
          "p",
          { class: shipment.label ? "label-state ok" : "label-state muted" },
          shipment.label
            ? `Label ${shipment.label.tracking}${shipment.label.sent_at ? " · emailed" : ""}`
            : "No label yet",
        ),
      );
    }),
  );
  if (!page.shipments.length) list.replaceChildren(h("li", { class: "muted" }, "No orders yet."));
}

function consignors() {
  return [...new Set(page.shipments.map((s) => s.consignor).filter(Boolean))];
}

function renderLabels(skipped = []) {
  const labelled = page.shipments.filter((s) => s.label).length;
  setText(
    $("#labels-summary"),
    `${plural(labelled, "label", "labels")} for ${plural(page.shipments.length, "shipment", "shipments")}`,
  );
  $("#create-labels").disabled = !page.return_address || labelled === page.shipments.length;
  $("#skipped").replaceChildren(
    ...skipped.map((skip) => {
      const shipment = page.shipments.find((s) => s.id === skip.shipment_id);
      return h(
        "li",
        { class: "warning" },
        `No label for @${shipment ? shipment.buyer : skip.shipment_id}: the buyer has no address yet.`,
      );
    }),
  );
  const file = (who, ext) => `labels-${streamId}${who ? `-${who}` : ""}.${ext}`;
  const query = (who) => (who ? `?consignor=${encodeURIComponent(who)}` : "");
  const buttons = [];
  for (const who of [null, ...consignors()]) {
    const whose = who ? `@${who}'s` : "all";
    buttons.push(
      h(
        "button",
        {
          type: "button",
          class: "btn btn-small",
          disabled: !labelled,
          onclick: (event) => download(event.currentTarget, `${base}/labels.pdf${query(who)}`, file(who, "pdf")),
        },
        `PDF (${whose})`,
      ),
      h(
        "button",
        {
          type: "button",
          class: "btn btn-small",
          disabled: !labelled,
          onclick: (event) => download(event.currentTarget, `${base}/labels.csv${query(who)}`, file(who, "csv")),
        },
        `CSV (${whose})`,
      ),
    );
    if (who) {
      buttons.push(
        h(
          "button",
          {
            type: "button",
            class: "btn btn-small btn-primary",
            disabled: !page.shipments.some((s) => s.label && s.consignor === who),
            onclick: (event) =>
              act(
                event.currentTarget,
                () => api("POST", `${base}/labels/send`, { consignor: who }),
                (result) => `Labels emailed to ${result.sent_to}.`,
              ),
          },
          `Email labels to @${who}`,
        ),
      );
    }
  }
  $("#downloads").replaceChildren(...buttons);
}

function renderMoney() {
  const money = page.money;
  const currency = page.orders[0]?.currency || "USD";
  const ended = page.stream.status === "ended";
  const rows = [
    h("p", {}, "Revenue: ", h("strong", {}, formatPrice(money.revenue_cents, currency))),
  ];
  if (money.payout) {
    rows.push(h("p", { class: "ok" }, `Paid out: ${formatPrice(money.payout.revenue_cents, currency)}`));
  } else {
    rows.push(
      h(
        "button",
        {
          type: "button",
          class: "btn btn-primary",
          id: "payout",
          disabled: !ended,
          onclick: (event) =>
            act(event.currentTarget, () => api("POST", `${base}/payout`), () => "Payout done."),
        },
        "Pay out",
      ),
      ended ? null : h("p", { class: "muted small" }, "The payout opens once the show has ended."),
    );
  }
  const left = money.left_to_share_cents;
  if (money.cohosts.length) {
    const amount = h("input", {
      id: "share-amount",
      type: "number",
      min: "0.01",
      step: "0.01",
      inputmode: "decimal",
      required: true,
    });
    const who = h(
      "select",
      { id: "share-to" },
      ...money.cohosts.map((name) => h("option", { value: name }, `@${name}`)),
    );
    const form = h(
      "form",
      { class: "share-form", id: "share-form" },
      h("h3", { class: "small-heading" }, `Share with cohost`),
      h("p", { class: "muted small", id: "share-left" }, `Left to share: ${formatPrice(left, currency)}`),
      h("label", { for: "share-to" }, "Cohost"),
      who,
      h("label", { for: "share-amount" }, "Amount"),
      amount,
      h(
        "button",
        { type: "submit", class: "btn", disabled: !money.payout || left <= 0 },
        money.cohosts.length === 1 ? `Share with @${money.cohosts[0]}` : "Share",
      ),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const cents = Math.round(Number(amount.value) * 100);
      act(
        form.querySelector("button"),
        () => api("POST", `${base}/share`, { username: who.value, amount_cents: cents }),
        (result) => `Shared ${formatPrice(result.transfer.amount_cents, currency)} with @${result.transfer.to}.`,
      );
    });
    rows.push(form);
  }
  for (const transfer of money.transfers) {
    rows.push(h("p", { class: "muted small" }, `Shared ${formatPrice(transfer.amount_cents, currency)} with @${transfer.to}`));
  }
  $("#money").replaceChildren(...rows);
}

function renderOrders() {
  const body = $("#orders tbody");
  body.replaceChildren(
    ...page.orders.map((order) =>
      h(
        "tr",
        {},
        h("td", {}, `@${order.buyer}`),
        h("td", {}, `${order.quantity} × ${order.item_title || order.listing_id}`),
        h("td", {}, order.consignor ? `@${order.consignor}` : "—"),
        h("td", {}, order.discount_code || "—"),
        h("td", {}, order.discount_cents ? formatPrice(order.discount_cents, order.currency) : "—"),
        h("td", {}, formatPrice(order.total_cents, order.currency)),
        h("td", {}, order.label ? order.label.tracking : order.shipment_id ? "No label yet" : "—"),
      ),
    ),
  );
}

async function load() {
  page = await api("GET", `${base}/after-sale`);
  setText($("#subtitle"), `${page.stream.title} · ${page.stream.status}`);
  document.title = `Orders & shipping: ${page.stream.title} — Costream`;
  $("#studio-link").href = `/studio/${encodeURIComponent(streamId)}`;
  setText($("#page-error"), "");
  renderReturnAddress();
  renderShipments();
  renderLabels(lastSkipped);
  renderMoney();
  renderOrders();
}

$("#create-labels").addEventListener("click", (event) =>
  act(
    event.currentTarget,
    async () => {
      const result = await api("POST", `${base}/labels`);
      lastSkipped = result.skipped;
      return result;
    },
    (result) => `${plural(result.created.length, "label", "labels")} created.`,
  ),
);

if (!currentUser()) {
  setText($("#page-error"), "Sign in on the home page first.");
} else {
  load().catch((error) => setText($("#page-error"), error.message));
}
