import { ipAllowed, parseAllowlist } from '@capcheck/shared';

test('matches addresses and subnets of both families, including IPv4-mapped IPv6', () => {
  const list = parseAllowlist(['127.0.0.0/8', '::1/128', '10.1.2.3']);
  expect(ipAllowed(list, '127.0.0.1')).toBe(true);
  expect(ipAllowed(list, '::ffff:127.0.0.5')).toBe(true);
  expect(ipAllowed(list, '::1')).toBe(true);
  expect(ipAllowed(list, '10.1.2.3')).toBe(true);
  expect(ipAllowed(list, '10.1.2.4')).toBe(false);
  expect(ipAllowed(list, '192.168.0.1')).toBe(false);
  expect(ipAllowed(list, undefined)).toBe(false);
});

test.each(['localhost', '10.0.0.0/33', '::1/129', '1.2.3.4/x', ''])('refuses %j, naming it', (entry) => {
  expect(() => parseAllowlist([entry])).toThrow(
    entry === '' ? /not an IP/ : new RegExp(entry.replace(/[/.]/g, '\\$&')),
  );
});
