// The profile page: the signed-in user's address (shipping or return) and email.

import { api, currentUser } from "/static/js/api.js";
import { $, setText, toast } from "/static/js/ui.js";

const ADDRESS_FIELDS = ["name", "line1", "line2", "city", "region", "postal_code", "country"];

function fill(form, values) {
  for (const [name, value] of Object.entries(values || {})) {
    if (form.elements[name]) form.elements[name].value = value ?? "";
  }
}

/** Submit a form as JSON with PUT; errors show in the form, success as a toast. */
function saveOn(form, path, body, errorNode, message) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setText(errorNode, "");
    try {
      await api("PUT", path, body());
      toast(message, "ok");
    } catch (error) {
      setText(errorNode, error.message);
    }
  });
}

const addressForm = $("#address-form");
saveOn(
  addressForm,
  "/api/me/address",
  () => {
    const data = new FormData(addressForm);
    return Object.fromEntries(ADDRESS_FIELDS.map((name) => [name, data.get(name) || null]));
  },
  $("#address-error"),
  "Address saved.",
);
const emailForm = $("#email-form");
saveOn(emailForm, "/api/me/email", () => ({ email: emailForm.elements.email.value }), $("#email-error"), "Email saved.");

const me = currentUser();
if (!me) {
  setText($("#page-error"), "Sign in on the home page first.");
} else {
  setText($("#who"), `@${me.username}`);
  api("GET", "/api/me/profile")
    .then((profile) => {
      fill(addressForm, profile.address);
      fill(emailForm, { email: profile.user.email });
    })
    .catch((error) => setText($("#page-error"), error.message));
}
