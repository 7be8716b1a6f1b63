// Home page: live and upcoming shows, sign-in, create a show, the host's own shows.

import { api, currentUser, signIn, signOut } from "/static/js/api.js";
import { $, authForm, h, setText } from "/static/js/ui.js";
import { listenForReminders, showCard } from "/static/js/lifecycle.js";

const focusSignIn = () => $("#auth input")?.focus();
async function loadShows() {
  for (const [status, box, empty] of [
    ["live", "#live-shows", "Nobody is live right now."],
    ["scheduled", "#upcoming-shows", "No shows scheduled yet."],
  ]) {
    try {
      const { streams } = await api("GET", `/api/streams?status=${status}`);
      $(box).replaceChildren(
        ...(streams.length ? streams.map((s) => showCard(s, { onNeedSignIn: focusSignIn })) : [h("p", { class: "muted" }, empty)]),
      );
    } catch (error) {
      $(box).replaceChildren(h("p", { class: "form-error" }, error.message));
    }
  }
}

function render() {
  const me = currentUser();
  $("#auth").hidden = Boolean(me);
  $("#create").hidden = !me;
  $("#dashboard-link").hidden = !me;
  $("#account").replaceChildren(
    ...(me
      ? [h("span", { class: "muted" }, "Signed in as ", h("strong", {}, `@${me.username}`)),
         h("a", { class: "btn btn-small", href: "/me/orders" }, "My orders"),
         h("a", { class: "btn btn-small", href: "/me/referrals" }, "My referrals"),
         h("a", { class: "btn btn-small", href: "/me/profile" }, "Profile"),
         h("button", { type: "button", class: "btn btn-small", onclick: () => { signOut(); render(); } }, "Sign out")]
      : []),
  );
  renderShows();
}
$("#auth").append(authForm({
  idPrefix: "home-auth",
  onSubmit: async (username, password, register) => {
    await signIn(username, password, register);
    render();
    loadShows();
    listenForReminders(currentUser()?.token, loadShows);
  },
}));
// The host's show list: each show's studio and its orders & shipping page.
async function renderShows() {
  const me = currentUser();
  $("#my-shows").hidden = true;
  if (!me) return;
  const { streams } = await api("GET", "/api/me/streams").catch(() => ({ streams: [] }));
  $("#my-shows").hidden = !streams.length;
  $("#show-list").replaceChildren(...streams.map((stream) => {
    const id = encodeURIComponent(stream.id);
    return h("li", { class: "card" },
      h("span", {}, h("strong", {}, stream.title), h("span", { class: "muted" }, ` · ${stream.status}`)),
      h("span", { class: "row" },
        h("a", { class: "btn btn-small", href: `/studio/${id}` }, "Studio"),
        h("a", { class: "btn btn-small", href: `/shows/${id}/orders` }, "Orders & shipping")));
  }));
}
$("#create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(event.target);
  const when = data.get("scheduled_at");
  try {
    const { stream } = await api("POST", "/api/streams", {
      title: data.get("title"),
      description: data.get("description") || undefined,
      kind: data.get("kind") || "video",
      scheduled_at: when ? new Date(when).toISOString() : undefined,
    });
    location.href = `/studio/${encodeURIComponent(stream.id)}`;
  } catch (error) {
    setText($("#create-error"), error.message);
  }
});
render();
loadShows();
listenForReminders(currentUser()?.token, loadShows);
