import { resolve } from 'node:path';
import { z } from 'zod';
import {
  blobConfigShape,
  commonConfigShape,
  eventsConfigShape,
  parseAllowlist,
  setting,
  withAdapterRules,
} from '@capcheck/shared';
import { imagesConfigShape } from '@capcheck/images';
import { inferenceConfigShape } from '@capcheck/inference';
import { usersConfigShape } from '@capcheck/users';

export const localConfigSchema = withAdapterRules(
  z.object({
    ...commonConfigShape,
    ...usersConfigShape,
    ...blobConfigShape,
    ...eventsConfigShape,
    ...imagesConfigShape,
    ...inferenceConfigShape,
    PORT: setting.port(8080),
    HOST: z.string().default('127.0.0.1'),
    /** The built web page (`pnpm build` writes web/dist); served at `/`. Missing: the process runs API only. */
    WEB_DIR: z.string().default(resolve(__dirname, '..', '..', 'web', 'dist')),
    /** Who may reach /admin/* in the local process (the gateway's allow-list does this in production). */
    ADMIN_ALLOWLIST: setting.list('127.0.0.0/8,::1/128').superRefine((entries, ctx) => {
      try {
        parseAllowlist(entries);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  }),
);

export type LocalConfig = z.output<typeof localConfigSchema>;
