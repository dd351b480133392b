import { createMongoInferenceStore } from '@capcheck/inference';
import { adaptationRepositoryContract } from './adaptations.contract';
import { mongoSuite } from '../../../../test-support/stores';

mongoSuite('adaptation repository: MongoDB adapter', (url) => {
  adaptationRepositoryContract(() => createMongoInferenceStore(url));
});
