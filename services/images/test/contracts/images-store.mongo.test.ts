import { createMongoImagesStore } from '@capcheck/images';
import { imagesStoreContract } from './images-store.contract';
import { mongoSuite } from '../../../../test-support/stores';

mongoSuite('images store: MongoDB adapter', (url) => {
  imagesStoreContract(() => createMongoImagesStore(url));
});
