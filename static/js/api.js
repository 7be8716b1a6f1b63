// REST helpers and the signed-in user, kept in localStorage.

const KEY = "costream.auth";

export function currentUser() {
  try {
    return JSON.parse(localStorage.getItem(KEY)) || null;
  } catch {
    return null;
  }
}

export function signOut() {
  const token = currentUser()?.token;
  localStorage.removeItem(KEY);
  // Revoke the token on the server too, so a copy of it is worth nothing.
  if (token) {
    fetch("/api/auth/logout", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      keepalive: true,
    }).catch(() => {});
  }
}

export async function api(method, path, body, token = currentUser()?.token) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.error?.message || `HTTP ${response.status}`);
    error.code = data.error?.code;
    error.status = response.status;
    throw error;
  }
  return data;
}

/** Sign in, or create the account when `register` is true. */
export async function signIn(username, password, register = false) {
  const data = await api("POST", `/api/auth/${register ? "register" : "login"}`, {
    username,
    password,
  });
  const auth = { token: data.token, username: data.user.username };
  localStorage.setItem(KEY, JSON.stringify(auth));
  return auth;
}

export function streamIdFromPath() {
  return decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
}

/** Every listing of a stream, oldest first, fetched page by page. */
export async function allListings(streamId) {
  const all = [];
  let after = null;
  for (;;) {
    const query = `limit=200${after ? `&after=${encodeURIComponent(after)}` : ""}`;
    const { listings, more } = await api("GET", `/api/streams/${encodeURIComponent(streamId)}/listings?${query}`);
    all.push(...listings);
    if (!more || listings.length === 0) return all;
    after = listings[listings.length - 1].id;
  }
}
