import { createMongoInferenceStore } from '@capcheck/inference';
import { inferenceStoreContract } from './inference-store.contract';
import { mongoSuite } from '../../../../test-support/stores';

mongoSuite('inference store: MongoDB adapter', (url) => {
  inferenceStoreContract(() => createMongoInferenceStore(url));
});
