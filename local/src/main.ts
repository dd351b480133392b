import { resolve } from 'node:path';
import { main } from '@capcheck/shared';
import { localConfigSchema } from './config';
import { openLocalModules } from './modules';

main({
  name: 'local',
  settings: localConfigSchema,
  open: async (config, shell) => (await openLocalModules(config, shell)).all,
  announce: (config) => ({ service: 'capcheck', dataDir: resolve(config.DATA_DIR) }),
});
