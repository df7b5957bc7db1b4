// Webhook targets (API.md, Subscriptions): every IP literal is normalised to an address and
// checked against the IANA special-purpose registries for IPv4 and IPv6; only globally
// reachable addresses pass unless SPOOL_ALLOW_PRIVATE_WEBHOOKS is "true".
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { isPrivateHost, parseIpv4, parseIpv6, webhookUrlProblem } from "../../durable-objects/topic/forward/address";
import app from "../../worker/index";
import { ADMIN_KEY, BASE, callJson, errorCode, uniqueName } from "./helpers";

/** Every one of these must be refused: [URL host as a client would write it, why]. */
const REFUSED: Array<[string, string]> = [
  ["0.0.0.0", "this network"], ["0.1.2.3", "this network"], ["10.0.0.1", "private"], ["100.64.0.1", "CGNAT"],
  ["100.127.255.255", "CGNAT"], ["127.0.0.1", "loopback"], ["127.255.0.1", "loopback"], ["169.254.169.254", "link-local"],
  ["172.16.0.1", "private"], ["172.31.255.255", "private"], ["192.0.0.8", "IETF assignments"], ["192.0.2.1", "TEST-NET-1"],
  ["192.88.99.1", "6to4 relay"], ["192.168.1.1", "private"], ["198.18.0.1", "benchmarking"], ["198.19.255.255", "benchmarking"],
  ["198.51.100.7", "TEST-NET-2"], ["203.0.113.9", "TEST-NET-3"], ["224.0.0.1", "multicast"], ["239.255.255.250", "multicast"],
  ["240.0.0.1", "reserved"], ["255.255.255.255", "broadcast"],
  // Numeric forms of 127.0.0.1 the URL parser accepts.
  ["2130706433", "decimal"], ["0177.0.0.1", "octal"], ["0x7f.1", "hex short"], ["127.1", "short"], ["0x7f000001", "hex"], ["017700000001", "octal whole"],
  // IPv6.
  ["[::1]", "loopback"], ["[::]", "unspecified"], ["[fc00::1]", "unique local"], ["[fd12:3456::1]", "unique local"],
  ["[fe80::1]", "link-local"], ["[febf::1]", "link-local"], ["[fec0::1]", "site-local"], ["[ff02::1]", "multicast"],
  ["[::ffff:127.0.0.1]", "IPv4-mapped"], ["[::ffff:8.8.8.8]", "IPv4-mapped"], ["[::7f00:1]", "IPv4-compatible"],
  ["[::127.0.0.1]", "IPv4-compatible"], ["[2002:7f00:1::]", "6to4 of loopback"], ["[2002:a00:1::1]", "6to4 of 10/8"],
  ["[64:ff9b::7f00:1]", "NAT64 of loopback"], ["[64:ff9b::10.0.0.1]", "NAT64 of private"], ["[64:ff9b:1::7f00:1]", "local-use NAT64"],
  ["[2001::1]", "Teredo"], ["[2001:0:4136:e378::1]", "Teredo"], ["[2001:2::1]", "benchmarking"], ["[2001:db8::1]", "documentation"],
  ["[3fff::1]", "documentation"], ["[100::1]", "discard"], ["[5f00::1]", "SRv6"],
  // Internal names.
  ["localhost", "name"], ["api.localhost", "name"], ["db.internal", "name"], ["printer.local", "name"], ["router.home.arpa", "name"], ["intranet", "single label"],
];

const ACCEPTED = [
  "192.0.78.9", "8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "198.20.0.1", "192.0.3.1", "192.169.0.1", "223.255.255.1",
  "192.31.196.1", "192.52.193.1", "[2606:4700:4700::1111]", "[2a00:1450::1]", "[2002:808:808::1]", "[64:ff9b::8.8.8.8]",
  "[2620:4f:8000::1]", "example.com", "hooks.example.co.uk",
];

describe("webhook SSRF", () => {
  it("ssrf - every special-purpose IPv4 and IPv6 block and every numeric form of loopback is refused", () => {
    for (const [host, why] of REFUSED) {
      expect(webhookUrlProblem(`http://${host}/hook`, false), `${host} (${why})`).toMatch(/private/);
    }
  });

  it("ssrf - globally reachable addresses are accepted, 192.0.78.9 among them", () => {
    for (const host of ACCEPTED) expect(webhookUrlProblem(`https://${host}/hook`, false), host).toBeNull();
  });

  it("ssrf - the checker normalises on its own, without the URL parser's help", () => {
    for (const host of ["2130706433", "0177.0.0.1", "0x7f.1", "127.1", "::1", "[::127.0.0.1]", "0x7f.0.0.0x1", "256.1.1.1", "1.2.3.4.5", "08.1.1.1", "[1::2::3]", "[::ffff:999.1.1.1]"]) {
      expect(isPrivateHost(host), host).toBe(true);
    }
    expect(parseIpv4("0x7f.1")).toBe(0x7f000001);
    expect(parseIpv4("192.0.78.9")).toBe(((192 * 256 + 0) * 256 + 78) * 256 + 9);
    expect(parseIpv6("::ffff:1.2.3.4")).toBe(0xffff01020304n);
    expect(parseIpv6("1:2:3:4:5:6:7:8")).toBe(0x00010002000300040005000600070008n);
    expect(parseIpv6("1:2:3:4:5:6:7")).toBeNull();
    expect(isPrivateHost("[2606:4700::1111]")).toBe(false);
  });

  it("ssrf - with SPOOL_ALLOW_PRIVATE_WEBHOOKS off, the route refuses IPv4-compatible, 6to4, NAT64 and site-local targets and accepts 192.0.78.9", async () => {
    const t = uniqueName("ssrf");
    expect((await callJson("PUT", `/v1/topics/${t}`, { body: {} })).status).toBe(200);
    const put = async (url: string): Promise<{ status: number; body: any }> => {
      const req = new Request(`${BASE}/v1/topics/${t}/subscriptions/s`, {
        method: "PUT",
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ url }),
      });
      const res = await app.fetch(req, { ...env, SPOOL_ALLOW_PRIVATE_WEBHOOKS: "false" });
      return { status: res.status, body: await res.json() };
    };
    for (const url of ["http://[::7f00:1]/h", "http://[::127.0.0.1]/h", "http://[2002:7f00:1::]/h", "http://[64:ff9b:1::7f00:1]/h", "http://[fec0::1]/h", "http://0x7f.1/h"]) {
      const res = await put(url);
      expect(res.status, url).toBe(400);
      expect(errorCode(res.body)).toBe("VALIDATION_FAILED");
      expect(res.body.error.details.field).toBe("url");
    }
    expect((await callJson("GET", `/v1/topics/${t}/subscriptions/s`)).status).toBe(404);
    expect((await put("https://192.0.78.9/hook")).status).toBe(200);
  });
});
