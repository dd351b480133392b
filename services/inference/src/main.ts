import { z } from 'zod';
import { listenConfigShape, main, shellConfigShape, withAdapterRules } from '@capcheck/shared';
import { inferenceSettingsShape, openInferenceModule } from './module';

main({
  name: 'inference',
  settings: withAdapterRules(z.object({ ...shellConfigShape, ...listenConfigShape(8083), ...inferenceSettingsShape })),
  open: async (config, shell) => [await openInferenceModule(config, shell)],
});
