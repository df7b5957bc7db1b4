/**
 * Which webhook URLs a subscription may target: `http(s)` only, and never a private,
 * loopback, link-local or otherwise non-public address unless the operator allows it
 * (`SPOOL_ALLOW_PRIVATE_WEBHOOKS="true"`, for local development). This keeps a tenant with
 * `manage` on a topic from turning the broker into a probe of the network it runs in.
 *
 * An IP literal is normalised to its number (every form the WHATWG URL parser accepts:
 * decimal `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, short `127.1`, IPv6 with an
 * embedded IPv4) and checked against the IANA special-purpose address registries for IPv4
 * and IPv6: only globally reachable addresses pass. Names pass unless they are internal
 * (`localhost`, `.internal`, single labels, …). A public name that resolves to a private
 * address is not caught here: Workers cannot resolve names, and Cloudflare's own fetch
 * refuses such targets.
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

/**
 * True for host names and IP literals that point anywhere but the public internet. An IP
 * literal that does not parse is treated as private: refusing is the safe answer.
 */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host.startsWith("[") || host.includes(":")) {
    const v6 = parseIpv6(host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host);
    return v6 === null || isSpecialIpv6(v6);
  }
  // As the URL parser does: a host whose last label is a number is an IPv4 address.
  if (/^(0x[0-9a-f]*|\d+)$/.test(host.slice(host.lastIndexOf(".") + 1))) {
    const v4 = parseIpv4(host);
    return v4 === null || isSpecialIpv4(v4);
  }
  if (host === "" || host === "localhost") return true;
  if (INTERNAL_SUFFIXES.some((s) => host.endsWith(s))) return true;
  // A single-label name ("intranet", "db") only resolves inside a private network.
  return !host.includes(".");
}

/**
 * IPv4 in the WHATWG URL parser's forms: 1–4 parts, each decimal, octal (leading 0) or
 * hex (0x); the last part fills the remaining bytes. The address as a number, or null.
 */
export function parseIpv4(host: string): number | null {
  const parts = host.split(".");
  if (parts.length > 4 || parts.some((p) => p === "")) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/.test(part)) n = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]+$/.test(part)) n = parseInt(part.slice(1), 8);
    else if (/^(0|[1-9]\d*)$/.test(part)) n = Number(part);
    else return null;
    numbers.push(n);
  }
  const last = numbers.pop()!;
  if (numbers.some((n) => n > 255) || last >= 256 ** (4 - numbers.length)) return null;
  return numbers.reduce((acc, n, i) => acc + n * 256 ** (3 - i), 0) + last;
}

type Block = readonly [address: string, prefix: number];

/**
 * IANA IPv4 special-purpose registry (RFC 6890 and updates), the blocks that are not
 * globally reachable, plus multicast. Left out because they are globally reachable:
 * 192.31.196.0/24 and 192.175.48.0/24 (AS112), 192.52.193.0/24 (AMT). The few globally
 * reachable /32s inside 192.0.0.0/24 are anycast services, never webhook targets.
 */
const IPV4_SPECIAL: readonly Block[] = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // shared address space (carrier-grade NAT)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (cloud metadata lives here)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments (DS-Lite, NAT64 discovery, …)
  ["192.0.2.0", 24], // documentation (TEST-NET-1)
  ["192.88.99.0", 24], // 6to4 relay anycast (deprecated)
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation (TEST-NET-2)
  ["203.0.113.0", 24], // documentation (TEST-NET-3)
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, and 255.255.255.255 limited broadcast
];

const IPV4_BLOCKS = IPV4_SPECIAL.map(([a, prefix]) => ({ base: parseIpv4(a)!, prefix }));

export function isSpecialIpv4(address: number): boolean {
  return IPV4_BLOCKS.some(({ base, prefix }) => Math.floor(address / 2 ** (32 - prefix)) === Math.floor(base / 2 ** (32 - prefix)));
}

/** An IPv6 address (text without brackets, optionally ending in dotted IPv4) as a number, or null. */
export function parseIpv6(text: string): bigint | null {
  let s = text;
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    // Only strict dotted decimal is allowed inside IPv6.
    const parts = dotted[2]!.split(".");
    if (parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) return null;
    const v4 = parts.reduce((acc, p) => acc * 256 + Number(p), 0);
    s = `${dotted[1]}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return null;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

const v6Blocks = (blocks: readonly Block[]) => blocks.map(([a, prefix]) => ({ base: parseIpv6(a)!, prefix }));
const inBlock = (address: bigint, { base, prefix }: { base: bigint; prefix: number }): boolean =>
  address >> BigInt(128 - prefix) === base >> BigInt(128 - prefix);

/**
 * Only global unicast (2000::/3) reaches the internet; everything outside it is special:
 * ::/128, ::1, IPv4-compatible ::/96, IPv4-mapped ::ffff:0:0/96, NAT64 local-use
 * 64:ff9b:1::/48, discard 100::/64, SRv6 5f00::/16, unique-local fc00::/7, link-local
 * fe80::/10, site-local fec0::/10 (deprecated), multicast ff00::/8, reserved space.
 */
const [GLOBAL_UNICAST] = v6Blocks([["2000::", 3]]);

/** The IANA IPv6 special-purpose blocks inside 2000::/3 that are not globally reachable. */
const IPV6_SPECIAL = v6Blocks([
  ["2001::", 23], // IETF protocol assignments: Teredo 2001::/32, benchmarking 2001:2::/48, ORCHID, …
  ["2001:db8::", 32], // documentation
  ["3fff::", 20], // documentation
]);

/** Prefixes that carry an IPv4 address, and where: NAT64 (last 32 bits), 6to4 (bits 16–48). */
const [NAT64] = v6Blocks([["64:ff9b::", 96]]);
const [SIX_TO_FOUR] = v6Blocks([["2002::", 16]]);

export function isSpecialIpv6(address: bigint): boolean {
  // Translated and tunnelled addresses reach the IPv4 address they embed: judge that one.
  if (inBlock(address, NAT64!)) return isSpecialIpv4(Number(address & 0xffffffffn));
  if (inBlock(address, SIX_TO_FOUR!)) return isSpecialIpv4(Number((address >> 80n) & 0xffffffffn));
  if (!inBlock(address, GLOBAL_UNICAST!)) return true;
  return IPV6_SPECIAL.some((block) => inBlock(address, block));
}
