// The home page: sign in or register, then create a show and open its studio.

import { api, currentUser, signIn, signOut } from "/static/js/api.js";
import { $, authForm, h, setText } from "/static/js/ui.js";

function render() {
  const me = currentUser();
  $("#auth").hidden = Boolean(me);
  $("#create").hidden = !me;
  $("#account").replaceChildren(
    ...(me
      ? [h("span", { class: "muted" }, "Signed in as ", h("strong", {}, `@${me.username}`)),
         h("button", { type: "button", class: "btn btn-small", onclick: () => { signOut(); render(); } }, "Sign out")]
      : []),
  );
}
$("#auth").append(authForm({
  idPrefix: "home-auth",
  onSubmit: async (username, password, register) => {
    await signIn(username, password, register);
    render();
  },
}));
$("#create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(event.target);
  const when = data.get("scheduled_at");
  try {
    const { stream } = await api("POST", "/api/streams", {
      title: data.get("title"),
      description: data.get("description") || undefined,
      scheduled_at: when ? new Date(when).toISOString() : undefined,
    });
    location.href = `/studio/${encodeURIComponent(stream.id)}`;
  } catch (error) {
    setText($("#create-error"), error.message);
  }
});
render();
