import type { ApiKeyId, Role, UserId } from '../ids';

/** Who is calling, as proven by a verified access token. */
export interface Principal {
  userId: UserId;
  role: Role;
  /** Set when the token was traded for an API key (machine client), so logs can say which key. */
  apiKeyId?: ApiKeyId;
}

/** A caller another service acts for: the verified principal and the token it came with. */
export interface Caller {
  principal: Principal;
  accessToken: string;
}

/** Access tokens are explicitly typed (RFC 9068 / RFC 8725 §3.11) so no other JWT can pass for one. */
export const accessTokenType = 'at+jwt';
/** The one algorithm we sign and accept (RFC 8725 §3.1): pinned, never read from the token. */
export const accessTokenAlgorithm = 'ES256';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      principal?: Principal;
      /** The verified Bearer token itself, for calls made on the caller's behalf. */
      accessToken?: string;
    }
  }
}
