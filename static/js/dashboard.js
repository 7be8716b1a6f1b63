// Host dashboard: past shows, their figures, viewers and orders over time (uPlot), CSV.

import { api, currentUser, signIn } from "/static/js/api.js";
import { $, authForm, formatPrice, formatWhen, h, setText, toast } from "/static/js/ui.js";
import uPlot from "/vendor/uplot/uPlot.esm.js";

const charts = [];

function figure(label, value, note = "") {
  return h("div", { class: "figure" }, h("span", { class: "figure-value" }, value),
    h("span", { class: "figure-label" }, label), note ? h("span", { class: "muted figure-note" }, note) : null);
}

function duration(seconds) {
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : m ? `${m} min ${s % 60} s` : `${s} s`;
}

function chart(title, series, color, holder) {
  const width = Math.max(260, Math.min(holder.clientWidth || 600, 900) - 24);
  const box = h("figure", { class: "chart" }, h("figcaption", {}, title));
  holder.append(box);
  // The last minute drawn as a step a minute wide, so a short show still has a shape.
  const points = [...series, [series[series.length - 1][0] + 60000, series[series.length - 1][1]]];
  const data = [points.map(([ts]) => ts / 1000), points.map(([, value]) => value)];
  const plot = new uPlot({
    width,
    height: 200,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [{ stroke: "#a3a3b5", grid: { stroke: "#2a2a38" } }, { stroke: "#a3a3b5", grid: { stroke: "#2a2a38" } }],
    series: [{}, { label: title, stroke: color, width: 2, fill: `${color}33`, paths: uPlot.paths.stepped({ align: 1 }) }],
  }, data, box);
  charts.push(plot);
}

async function downloadCsv(stream) {
  const response = await fetch(`/api/streams/${encodeURIComponent(stream.id)}/stats.csv`, {
    headers: { Authorization: `Bearer ${currentUser()?.token}` },
  });
  if (!response.ok) return toast("Could not download the CSV", "error");
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: `costream-${stream.id}-stats.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

async function showStats(stream) {
  for (const plot of charts.splice(0)) plot.destroy();
  document.querySelectorAll("#show-list [aria-current]").forEach((node) => node.removeAttribute("aria-current"));
  document.querySelector(`#show-list [data-id="${CSS.escape(stream.id)}"]`)?.setAttribute("aria-current", "true");
  const detail = $("#detail");
  detail.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  let stats;
  try {
    ({ stats } = await api("GET", `/api/streams/${encodeURIComponent(stream.id)}/stats`));
  } catch (error) {
    detail.replaceChildren(h("p", { class: "form-error" }, error.message));
    return;
  }
  const csv = h("button", { type: "button", class: "btn", onclick: () => downloadCsv(stream) }, "Download CSV");
  const chartsBox = h("div", { class: "charts" });
  detail.replaceChildren(
    h("div", { class: "row dash-head" }, h("h2", {}, stream.title),
      h("span", { class: "chip", dataset: { state: stream.status === "live" ? "ok" : "idle" } }, stream.status), csv),
    h("p", { class: "muted" }, stream.started_at ? `Went live ${formatWhen(stream.started_at)}` : "Never went live"),
    h("div", { class: "figures", id: "figures" },
      figure("Peak viewers", stats.peak_viewers),
      figure("Unique viewers", stats.unique_viewers),
      figure("Avg watch time", duration(stats.avg_watch_s), `of ${duration(stats.duration_s)}`),
      figure("Chat messages", stats.chat_messages),
      figure("Orders", stats.orders, `${stats.units} units`),
      figure("GMV", formatPrice(stats.gmv_cents)),
      figure("Buyers", stats.buyers),
      figure("Conversion", `${(stats.conversion * 100).toFixed(1)} %`, "buyers / signed-in viewers"),
      figure("Reminders", stats.reminders, `${stats.reminded_attended} came`)),
    chartsBox,
  );
  if (stats.viewers_series.length) {
    chart("Viewers", stats.viewers_series, "#ff3d7f", chartsBox);
    chart("Orders", stats.orders_series, "#22c55e", chartsBox);
  } else {
    chartsBox.append(h("p", { class: "muted" }, "Charts appear once the show has been live."));
  }
}

async function load() {
  const me = currentUser();
  $("#auth").hidden = Boolean(me);
  if (!me) {
    $("#auth").replaceChildren(authForm({
      idPrefix: "dash-auth",
      intro: "Sign in to see your shows.",
      onSubmit: async (username, password, register) => { await signIn(username, password, register); load(); },
    }));
    return;
  }
  setText($("#account"), `@${me.username}`);
  const { streams } = await api("GET", "/api/me/streams");
  $("#show-list").replaceChildren(...(streams.length ? streams.map((stream) => h("li", {},
    h("button", { type: "button", class: "show-row", dataset: { id: stream.id }, onclick: () => { location.hash = stream.id; showStats(stream); } },
      h("span", { class: "show-row-title" }, stream.title),
      h("span", { class: "muted" }, `${stream.status}${stream.started_at ? ` · ${formatWhen(stream.started_at)}` : ""}`)))) : [h("li", { class: "muted" }, "No shows yet.")]));
  const wanted = streams.find((s) => s.id === decodeURIComponent(location.hash.slice(1))) || streams.find((s) => s.started_at);
  if (wanted) showStats(wanted);
}

load();
