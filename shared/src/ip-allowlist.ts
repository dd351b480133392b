import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { RequestHandler } from 'express';
import { AppError } from './errors';

/** Parses `10.0.0.0/8,::1/128,127.0.0.1` into a matcher; throws naming the entry it cannot read. */
export function parseAllowlist(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefixText] = entry.split('/');
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    if (!family) throw new Error(`not an IP address or CIDR: "${entry}"`);
    if (prefixText === undefined) {
      list.addAddress(address, family);
      continue;
    }
    const prefix = Number(prefixText);
    const max = family === 'ipv4' ? 32 : 128;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`bad prefix length: "${entry}"`);
    list.addSubnet(address, prefix, family);
  }
  return list;
}

export function ipAllowed(list: BlockList, ip: string | undefined): boolean {
  if (!ip) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  const address = mapped?.[1] ?? ip;
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}

/**
 * `/admin/*` answers only to allow-listed addresses; others get a 404, so the admin surface is not
 * even visible. `req.ip` honours the app's `trust proxy` setting.
 */
export function allowlistOnly(list: BlockList): RequestHandler {
  return (req, _res, next) => {
    if (ipAllowed(list, req.ip)) next();
    else next(new AppError('not_found', 'route_not_found', 'no such route'));
  };
}
