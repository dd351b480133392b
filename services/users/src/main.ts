import { z } from 'zod';
import { listenConfigShape, main, shellConfigShape, withAdapterRules } from '@capcheck/shared';
import { openUsersModule, usersSettingsShape } from './module';

main({
  name: 'users',
  settings: withAdapterRules(z.object({ ...shellConfigShape, ...listenConfigShape(8081), ...usersSettingsShape })),
  open: async (config, shell) => [await openUsersModule(config, shell)],
});
