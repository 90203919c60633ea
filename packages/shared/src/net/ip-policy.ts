import { promises as dns } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Where the broker may send a request whose URL an agent chose (job callbacks):
 * never into the operator's own network (SSRF). The api checks a callbackUrl at
 * submission and the worker checks it again at delivery, because DNS can
 * change in between; both use this one policy.
 */
const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches localhost on Linux
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, incl. the cloud metadata service 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. broadcast
] as const) {
  blocked.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 96], // unspecified, loopback (::1) and the deprecated IPv4-compatible range
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique-local, incl. the AWS metadata service fd00:ec2::254
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated, still routed by some stacks)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, bits, 'ipv6');
}

/** The 16 bytes of an IPv6 address (no zone id), for reading an embedded IPv4. */
function ipv6Bytes(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    tail.push(...dotted.slice(1).map(Number));
    text = text.slice(0, dotted.index) + '0:0';
  }
  const [head = '', rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const groups = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = groups.flatMap((g) => {
    const n = parseInt(g || '0', 16);
    return [n >> 8, n & 0xff];
  });
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * An IPv4 address hiding inside an IPv6 one, which reaches the IPv4 host:
 * IPv4-mapped (::ffff:a.b.c.d, which URL parsing rewrites as ::ffff:7f00:1),
 * NAT64 (64:ff9b::/96) and 6to4 (2002:AABB:CCDD::/48). Node's BlockList
 * happens to match mapped addresses against IPv4 rules, but not the other two,
 * and that behaviour is undocumented, so all three are unwrapped here.
 */
function embeddedIpv4(address: string): string | undefined {
  const b = ipv6Bytes(address);
  const isZero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (isZero(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12, 16).join('.');
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && isZero(4, 12)) return b.slice(12, 16).join('.');
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join('.');
  return undefined;
}

/** True when nothing may be sent to `address` (a literal IP): loopback, private, link-local, unique-local, metadata… */
export function isForbiddenAddress(address: string): boolean {
  const bare = address.replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return blocked.check(bare, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(bare);
    return blocked.check(bare, 'ipv6') || (v4 !== undefined && blocked.check(v4, 'ipv4'));
  }
  return true; // not an IP at all: refuse rather than guess
}

/** Resolves a host name to every address it has. */
export type Lookup = (host: string) => Promise<string[]>;

/** @defaultValue 1500 ms: a slow resolver must not hold a submission or a delivery for long. */
export const TARGET_LOOKUP_TIMEOUT_MS = 1500;

export const systemLookup: Lookup = async (host) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('lookup timed out')), TARGET_LOOKUP_TIMEOUT_MS);
  });
  try {
    const found = await Promise.race([dns.lookup(host, { all: true, verbatim: true }), timeout]);
    return found.map((a) => a.address);
  } finally {
    clearTimeout(timer);
  }
};

/** Lower case, no IPv6 brackets, no trailing dot: the form hosts are compared in. */
export const normalHost = (host: string): string =>
  host
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');

/** Is the URL's host one the operator allowed (by host name, or by `host:port`)? */
export function isAllowedHost(url: URL, allowHosts: readonly string[]): boolean {
  const host = normalHost(url.hostname);
  return allowHosts.some((h) => normalHost(h) === host || h.toLowerCase() === url.host);
}

export type TargetVerdict =
  /** `addresses` is empty only for an allowed host that was not resolved (`resolveAllowed` off). */
  { ok: true; allowedHost: boolean; addresses: string[] } | { ok: false; reason: string };

export interface TargetPolicy {
  allowHosts: readonly string[];
  /** @defaultValue {@link systemLookup} */
  lookup?: Lookup;
  /** Resolve allowed hosts too (the worker must, to connect to the address it looked up). @defaultValue false */
  resolveAllowed?: boolean;
}

/**
 * May a request go to this URL? Hosts in `allowHosts` pass as they are; any
 * other host is resolved and refused if any of its addresses is internal,
 * because a connection may pick any of them. The URL is already normalized by
 * WHATWG parsing, so decimal (2130706433) and hex (0x7f.1) IPv4 spellings
 * arrive here as dotted quads, and ::ffff:127.0.0.1 as ::ffff:7f00:1.
 */
export async function vetTarget(url: URL, policy: TargetPolicy): Promise<TargetVerdict> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'must be an http(s) URL' };
  const host = normalHost(url.hostname);
  const allowedHost = isAllowedHost(url, policy.allowHosts);
  if (allowedHost && !policy.resolveAllowed) return { ok: true, allowedHost, addresses: [] };

  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await (policy.lookup ?? systemLookup)(host);
    } catch {
      return { ok: false, reason: `host "${host}" could not be resolved` };
    }
  }
  if (addresses.length === 0) return { ok: false, reason: `host "${host}" could not be resolved` };
  if (!allowedHost && addresses.some(isForbiddenAddress)) {
    return { ok: false, reason: 'must not point to a loopback, private, link-local or metadata address' };
  }
  return { ok: true, allowedHost, addresses };
}
