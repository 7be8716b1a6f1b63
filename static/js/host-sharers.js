// The "Sharers" section of the host's orders page: the show's commission percent and
// every sharer's results (joins through their link, buyers, orders, sales, commission).

import { api } from "/static/js/api.js";
import { $, formatPrice, h, setText, toast } from "/static/js/ui.js";

const streamId = decodeURIComponent(location.pathname.split("/")[2] || "");
const base = `/api/streams/${encodeURIComponent(streamId)}`;

function renderPercent(percent) {
  const input = h("input", {
    id: "commission-percent",
    type: "number",
    min: "0",
    max: "50",
    step: "1",
    inputmode: "numeric",
    value: String(percent),
    required: true,
  });
  const form = h(
    "form",
    { class: "row", id: "commission-form" },
    h("label", { for: "commission-percent" }, "Sharer commission (%)"),
    input,
    h("button", { type: "submit", class: "btn btn-small", id: "commission-save" }, "Save"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("#commission-save");
    button.disabled = true;
    try {
      const { stream } = await api("PATCH", base, {
        sharer_commission_percent: Number(input.value),
      });
      toast(`Sharers now earn ${stream.sharer_commission_percent} %.`, "ok");
      await load();
    } catch (error) {
      toast(
        error.code === "commission_locked"
          ? "The commission is fixed once a sharer's link has brought an order."
          : error.message,
        "error",
        6000,
      );
      button.disabled = false;
    }
  });
  $("#commission").replaceChildren(form);
}

function renderSharers(sharers) {
  const body = $("#sharers tbody");
  if (!sharers.length) {
    body.replaceChildren(
      h("tr", {}, h("td", { colspan: "7", class: "muted" }, "No one has shared this show yet.")),
    );
    return;
  }
  body.replaceChildren(
    ...sharers.map((row) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, `@${row.username}`),
        h("td", {}, String(row.joins)),
        h("td", {}, String(row.buyers)),
        h("td", {}, String(row.orders)),
        h("td", {}, formatPrice(row.gmv_cents)),
        h("td", {}, formatPrice(row.commission_cents)),
        h("td", { class: row.paid ? "ok" : "muted" }, row.paid ? "Paid" : "Not yet"),
      ),
    ),
  );
}

async function load() {
  try {
    const data = await api("GET", `${base}/sharers`);
    renderPercent(data.sharer_commission_percent);
    renderSharers(data.sharers);
  } catch (error) {
    setText($("#sharers-error"), error.message);
  }
}

load();
