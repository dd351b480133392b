import { resolve } from 'node:path';
import { z } from 'zod';
import { listenConfigShape, parseAllowlist, setting, shellConfigShape, withAdapterRules } from '@capcheck/shared';
import { imagesSettingsShape } from '@capcheck/images';
import { inferenceSettingsShape } from '@capcheck/inference';
import { usersSettingsShape } from '@capcheck/users';

/** Every service's settings (the local process runs them all), and the local process's own. */
export const localConfigSchema = withAdapterRules(
  z.object({
    ...shellConfigShape,
    ...listenConfigShape(8080, '127.0.0.1'),
    ...usersSettingsShape,
    ...imagesSettingsShape,
    ...inferenceSettingsShape,
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
