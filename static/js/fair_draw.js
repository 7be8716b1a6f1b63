// The giveaway draw recomputed in the browser, exactly as the protocol states it
// (docs/protocol-selling.md, "The draw"): commitment = SHA-256(seed); the entrants'
// lowercased names sorted; h = SHA-256(seed + names joined by "\n"); the draw lands on
// names[h mod n] and, if that entrant was not watching, passes to the next (wrapping).
// The server's own code is server/domain/giveaways.py `draw`.

const encoder = new TextEncoder();

function bytesOfHex(hex) {
  if (!/^([0-9a-f]{2})*$/i.test(hex)) throw new Error("not hex");
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Whether this browser can check (Web Crypto exists only on HTTPS and localhost). */
export const canCheck = Boolean(globalThis.crypto?.subtle);

/** Whether `seedHex` is the seed whose SHA-256 was published as `commitment`. */
export async function seedMatches(seedHex, commitment) {
  return (await sha256Hex(bytesOfHex(seedHex))) === String(commitment).toLowerCase();
}

/** The entrants (lowercased) in draw order: the hashed pick first, then the next ones
 * in sorted order, wrapping; the winner is the first of them watching at the draw. */
export async function drawOrder(seedHex, entrants) {
  // Usernames are ASCII, so JavaScript's sort orders them as Python's `sorted` does.
  const names = [...new Set(entrants.map((name) => name.toLowerCase()))].sort();
  if (!names.length) return [];
  const seed = bytesOfHex(seedHex);
  const text = encoder.encode(names.join("\n"));
  const message = new Uint8Array(seed.length + text.length);
  message.set(seed);
  message.set(text, seed.length);
  const first = Number(BigInt(`0x${await sha256Hex(message)}`) % BigInt(names.length));
  return names.map((_, step) => names[(first + step) % names.length]);
}

/** Where the draw landed and who it passed over to reach `winner` (lowercased, or null
 * for no winner): `winnerOk` is false when the winner is not an entrant at all. */
export function explain(order, winner) {
  const landing = order[0] ?? null;
  const reached = winner === null ? order.length : order.indexOf(winner);
  return {
    landing,
    skipped: order.slice(0, Math.max(0, reached)),
    winnerOk: winner === null || order.includes(winner),
  };
}
