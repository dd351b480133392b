import { z } from 'zod';
import { listenConfigShape, main, shellConfigShape, withAdapterRules } from '@capcheck/shared';
import { imagesSettingsShape, openImagesModule } from './module';

main({
  name: 'images',
  settings: withAdapterRules(z.object({ ...shellConfigShape, ...listenConfigShape(8082), ...imagesSettingsShape })),
  open: async (config, shell) => [await openImagesModule(config, shell)],
});
