import { z } from 'zod';
import type { CircuitBreaker } from '../circuit-breaker';
import { AppError } from '../errors';
import { roles, type Role, type UserId } from '../ids';
import type { Principal } from './principal';
import type { AccessTokenVerifier } from './verifier';

/** An account as the users store has it now (not as a token remembers it). */
export interface AccountStatus {
  role: Role;
  disabled: boolean;
}

/** Looks an account up; null when it no longer exists. Rejects when the users store cannot be asked. */
export type AccountLookup = (caller: { userId: UserId; accessToken: string }) => Promise<AccountStatus | null>;

const revoked = () =>
  new AppError('unauthenticated', 'invalid_token', 'the access token is missing, invalid or expired');

/**
 * A verifier that also checks the account behind a valid token as it is now: the tokens of a disabled
 * or deleted account are refused, and the role is the account's current one, never the token's claim,
 * so a demoted or disabled admin loses admin powers at once. When the account cannot be looked up (the
 * users service is unreachable) the token alone lets the caller in, but only as a plain user: admin
 * powers fail closed, everything else stays available.
 */
export function withAccountCheck(
  verifier: AccessTokenVerifier,
  lookup: AccountLookup,
  onLookupFailed: (err: unknown) => void = () => undefined,
): AccessTokenVerifier {
  return {
    async verify(token) {
      const principal = await verifier.verify(token);
      let account: AccountStatus | null;
      try {
        account = await lookup({ userId: principal.userId, accessToken: token });
      } catch (err) {
        onLookupFailed(err);
        return { ...principal, role: 'user' } satisfies Principal;
      }
      if (!account || account.disabled) throw revoked();
      return { ...principal, role: account.role };
    },
  };
}

const meBody = z.object({ role: z.enum(roles) });

/**
 * The account as the users service shows it to its own holder: `GET /users/me` with the caller's token,
 * so no internal credential exists. An answer is remembered for `cacheMs`, which is how long a disabled
 * account's tokens may still work on a service that is not users.
 */
export function usersServiceAccountLookup(options: {
  usersUrl: string;
  /** Each call's deadline. */
  timeoutMs: number;
  cacheMs: number;
  maxEntries?: number;
  /**
   * Fails the lookup at once while users keeps failing (timeouts, refused connections, 5xx), so a
   * hung users service costs no request its deadline; the caller then goes on as a plain user.
   */
  breaker?: CircuitBreaker;
}): AccountLookup {
  const maxEntries = options.maxEntries ?? 10_000;
  const known = new Map<UserId, { account: AccountStatus | null; until: number }>();
  return async ({ userId, accessToken }) => {
    const hit = known.get(userId);
    if (hit && hit.until > Date.now()) return hit.account;
    const ask = () => askUsers(options.usersUrl, accessToken, options.timeoutMs);
    const account = await (options.breaker ? options.breaker.run(ask) : ask());
    known.delete(userId);
    known.set(userId, { account, until: Date.now() + options.cacheMs });
    if (known.size > maxEntries) known.delete(known.keys().next().value!);
    return account;
  };
}

/** GET /users/me with the caller's token: the account, null when users says there is none, or a rejection. */
async function askUsers(usersUrl: string, accessToken: string, timeoutMs: number): Promise<AccountStatus | null> {
  const res = await fetch(new URL('/users/me', usersUrl), {
    headers: { authorization: `Bearer ${accessToken}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  try {
    if (res.status === 200) return { role: meBody.parse(await res.json()).role, disabled: false };
    if (res.status === 401 || res.status === 403 || res.status === 404) return null;
    throw new Error(`users answered ${res.status} to GET /users/me`);
  } finally {
    await res.body?.cancel().catch(() => undefined);
  }
}
