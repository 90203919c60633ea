import { promises as dns } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import type { FieldError } from '@broker/shared';

/**
 * Addresses a callback may never target (SSRF): the broker runs inside the
 * operator's network, and a callback URL is chosen by an agent.
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

/** True when a callback must not be sent to `address` (a literal IP). */
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

export type Lookup = (host: string) => Promise<string[]>;

/** @defaultValue 1500 ms: a slow resolver must not hold the submission for long. */
export const CALLBACK_LOOKUP_TIMEOUT_MS = 1500;

export const systemLookup: Lookup = async (host) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('lookup timed out')), CALLBACK_LOOKUP_TIMEOUT_MS);
  });
  try {
    const found = await Promise.race([dns.lookup(host, { all: true, verbatim: true }), timeout]);
    return found.map((a) => a.address);
  } finally {
    clearTimeout(timer);
  }
};

const POINTER = '/callbackUrl';
const refuse = (message: string): FieldError[] => [{ pointer: POINTER, message }];

export interface CallbackPolicy {
  /** `callbacks` from the config; absent means callbacks are off. */
  callbacks: { allowHosts: readonly string[] } | undefined;
  lookup?: Lookup;
}

const normalHost = (host: string) => host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');

/**
 * Checks a job's `callbackUrl` at submission (CONTRACT §3). Hosts the operator
 * allows pass as they are; any other host is resolved and refused if any of its
 * addresses is internal, because the worker's connection may pick any of them.
 * The URL is already normalized by WHATWG parsing, so decimal (2130706433) and
 * hex (0x7f.1) IPv4 spellings arrive here as dotted quads.
 *
 * The worker must check again at delivery: DNS can change in between.
 */
export async function checkCallbackUrl(raw: string, policy: CallbackPolicy): Promise<FieldError[]> {
  if (!policy.callbacks) return refuse('callbacks are not enabled on this broker');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return refuse('must be an http(s) URL');

  const host = normalHost(url.hostname);
  const allowed = policy.callbacks.allowHosts.some((h) => normalHost(h) === host || h.toLowerCase() === url.host);
  if (allowed) return [];

  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await (policy.lookup ?? systemLookup)(host);
    } catch {
      return refuse(`host "${host}" could not be resolved`);
    }
  }
  if (addresses.length === 0) return refuse(`host "${host}" could not be resolved`);
  if (addresses.some(isForbiddenAddress)) {
    return refuse('must not point to a loopback, private, link-local or metadata address');
  }
  return [];
}
