// "Verify a giveaway" (/giveaways/{id}): the draw redone in the viewer's browser from
// the revealed seed and the published entrant list (fair_draw.js), with every step
// shown: the seed against the commitment, where the draw lands, and who won.

import { api, streamIdFromPath } from "/static/js/api.js";
import { canCheck, drawOrder, explain, seedMatches } from "/static/js/fair_draw.js";
import { $, checkItem, fill, formatWhen, h, plural, setText } from "/static/js/ui.js";

const giveawayId = streamIdFromPath(); // the last part of the path: this giveaway's id

/** The checks of a drawn giveaway, and each entrant's part in the draw. */
async function judge(giveaway, entrants) {
  const spelling = new Map(entrants.map((name) => [name.toLowerCase(), name]));
  const at = (name) => `@${spelling.get(name) ?? name}`;
  const seedOk = await seedMatches(giveaway.seed, giveaway.commitment);
  const order = await drawOrder(giveaway.seed, entrants);
  const winner = giveaway.winner?.toLowerCase() ?? null;
  const { landing, skipped, winnerOk } = explain(order, winner);
  const checks = [
    {
      id: "check-seed",
      ok: seedOk,
      name: "The seed is the one committed to",
      detail: seedOk
        ? "Its SHA-256 is the commitment published when the giveaway opened."
        : "Its SHA-256 is not the commitment published when the giveaway opened.",
    },
  ];
  if (landing === null) {
    checks.push({ id: "check-winner", ok: winner === null, name: "Nobody entered", detail: "No draw to make." });
  } else {
    const position = `${[...order].sort().indexOf(landing) + 1} of ${order.length}`;
    const detail = winner === landing
      ? `The draw lands on ${at(landing)} (entrant ${position} in alphabetical order), who won.`
      : winner === null
        ? `The draw lands on ${at(landing)} (entrant ${position}); no entrant was still watching at the draw.`
        : winnerOk
          ? `The draw lands on ${at(landing)} (entrant ${position}); ${skipped.map(at).join(", ")} ${skipped.length === 1 ? "was" : "were"} no longer watching, so the next entrant present, ${at(winner)}, won.`
          : `The winner, @${giveaway.winner}, is not among the entrants.`;
    checks.push({ id: "check-winner", ok: winnerOk, name: winner ? `@${giveaway.winner} won` : "No winner", detail });
  }
  return { checks, order, landing, skipped, seedOk, winnerOk, at };
}

function showEntrants(order, { landing, skipped, winner, at }) {
  const alphabetical = [...order].sort();
  fill($("#entrants"), alphabetical.map((name) => {
    const role = name === winner ? "winner" : name === landing ? "landing" : skipped.includes(name) ? "skipped" : "";
    const passedOver = skipped.includes(name) ? ", not watching" : "";
    const notes = { winner: " — won", landing: ` — the draw landed here${passedOver}`, skipped: " — skipped: not watching" };
    return h("li", { dataset: { role } }, at(name), role ? h("span", { class: "muted" }, notes[role]) : null);
  }));
}

async function load() {
  let giveaway, entrants;
  try {
    ({ giveaway, entrants } = await api("GET", `/api/giveaways/${encodeURIComponent(giveawayId)}`));
  } catch (error) {
    setText($("#page-error"), error.code === "giveaway_not_found" ? "No such giveaway." : error.message);
    $("#verify").dataset.state = "failed";
    return;
  }
  document.title = `Verify: ${giveaway.title} — Costream`;
  setText($("#title"), giveaway.title);
  const link = $("#show-link");
  link.href = `/watch/${encodeURIComponent(giveaway.stream_id)}`;
  link.hidden = false;
  setText($("#commitment"), giveaway.commitment);
  setText($("#seed"), giveaway.seed ?? "revealed at the draw");
  const verify = $("#verify");
  if (giveaway.status === "open") {
    setText($("#subtitle"), `Draw at ${formatWhen(giveaway.ends_at)}`);
    setText($("#entrants-note"), `${plural(giveaway.entrant_count, "entrant", "entrants")} so far; the list is published with the seed.`);
    fill($("#checks"), h("li", { class: "muted" }, "The giveaway is still open: come back after the draw to check it."));
    verify.dataset.state = "open";
    return;
  }
  setText($("#subtitle"), giveaway.winner ? `Won by @${giveaway.winner}` : "Drawn, no winner");
  if (!canCheck) {
    fill($("#checks"), h("li", { class: "muted" }, "This browser can check only over HTTPS: the seed and entrants are below."));
    verify.dataset.state = "unchecked";
    return;
  }
  const result = await judge(giveaway, entrants);
  fill($("#checks"), result.checks.map(checkItem));
  setText($("#entrants-note"), `${plural(result.order.length, "entrant", "entrants")}, in alphabetical order.`);
  showEntrants(result.order, { ...result, winner: giveaway.winner?.toLowerCase() ?? null });
  Object.assign(verify.dataset, {
    state: "checked",
    seedOk: String(result.seedOk),
    winnerOk: String(result.winnerOk),
    landing: result.landing ?? "",
  });
}

load();
