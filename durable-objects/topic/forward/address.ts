/**
 * Which webhook URLs a subscription may target: `http(s)` only, and never a private,
 * loopback, link-local or otherwise internal address unless the operator allows it
 * (`SPOOL_ALLOW_PRIVATE_WEBHOOKS="true"`, for local development). This keeps a tenant with
 * `manage` on a topic from turning the broker into a probe of the network it runs in.
 *
 * The check is on the URL as written (IP literals in every form the URL parser accepts, and
 * internal host names). A public name that resolves to a private address is not caught
 * here: Workers cannot resolve names, and Cloudflare's own fetch refuses such targets.
 */

/** Why `raw` is not an acceptable webhook URL, or null when it is. */
export function webhookUrlProblem(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "url: not a valid absolute URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "url: only http and https URLs are allowed";
  if (!allowPrivate && isPrivateHost(url.hostname)) {
    return "url: private, loopback and internal addresses are not allowed (set SPOOL_ALLOW_PRIVATE_WEBHOOKS=\"true\" for local development)";
  }
  return null;
}

export function privateWebhooksAllowed(env: { SPOOL_ALLOW_PRIVATE_WEBHOOKS?: string }): boolean {
  return env.SPOOL_ALLOW_PRIVATE_WEBHOOKS === "true";
}

const INTERNAL_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa", ".lan"];

/** True for host names and IP literals that point into a private or local network. */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === "" || host === "localhost") return true;
  if (INTERNAL_SUFFIXES.some((s) => host.endsWith(s))) return true;
  if (host.startsWith("[") && host.endsWith("]")) return isPrivateIpv6(host.slice(1, -1));
  const v4 = parseIpv4(host);
  if (v4) return isPrivateIpv4(v4);
  // A single-label name ("intranet", "db") only resolves inside a private network.
  return !host.includes(".");
}

function parseIpv4(host: string): number[] | null {
  // The URL parser has already normalised hex, octal and short forms to dotted decimal.
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

function isPrivateIpv4([a, b]: number[]): boolean {
  if (a === undefined || b === undefined) return true;
  return (
    a === 0 || a === 10 || a === 127 || // this network, private, loopback
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local (cloud metadata lives here)
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) || // IETF protocol assignments
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a >= 224 // multicast, reserved, broadcast
  );
}

function isPrivateIpv6(addr: string): boolean {
  const a = addr.toLowerCase();
  if (a === "::" || a === "::1") return true;
  // IPv4-mapped and -translated forms carry an IPv4 address in the last 32 bits.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a) ?? /^64:ff9b::([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return isPrivateIpv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
  }
  if (/^::ffff:\d/.test(a)) return true; // dotted form, should the parser ever keep it
  const first = parseInt(a.split(":")[0] || "0", 16);
  return (
    (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xff00) === 0xff00 // multicast
  );
}
