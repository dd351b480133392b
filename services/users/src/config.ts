import { z } from 'zod';
import { setting, tokenClaimsConfigShape } from '@capcheck/shared';

/** Users-service settings; the standalone service and the local process both validate these. */
export const usersConfigShape = {
  ...tokenClaimsConfigShape,
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(900),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(300)
    .default(30 * 24 * 3600),
  /** `{"keys": [private EC P-256 JWKs]}`, first one signs; or JWT_SIGNING_KEYS_FILE. Generated locally when absent. */
  JWT_SIGNING_KEYS: z.string().optional(),
  BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(12),
  ADMIN_EMAILS: setting.list('').transform((list) => list.map((e) => e.toLowerCase())),
  LOGIN_ATTEMPTS_PER_ACCOUNT: setting.positiveInt(5),
  LOGIN_ATTEMPTS_PER_IP: setting.positiveInt(100),
  LOGIN_THROTTLE_WINDOW_SECONDS: setting.positiveInt(900),
  /** With Redis unreachable for this long, logins are refused (429) rather than counted per replica. */
  LOGIN_THROTTLE_FAIL_CLOSED_AFTER_SECONDS: setting.positiveInt(60),
  REGISTRATIONS_PER_IP_PER_HOUR: setting.positiveInt(30),
  API_KEY_FAILURES_PER_IP: setting.positiveInt(20),
  MAX_API_KEYS_PER_USER: setting.positiveInt(20),
};

export type UsersConfig = z.output<z.ZodObject<typeof usersConfigShape>>;
