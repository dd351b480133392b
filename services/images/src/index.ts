export * from './app';
export * from './module';
export * from './config';
export { imagesPathPrefixes, imageView } from './entry-points/http/routes';
export { ImagesDomain } from './domain/images';
export { sanitizeFilename } from './domain/formats';
export { sharpDecoder } from './data-access/sharp-decoder';
export * from './data-access/store';
export * from './domain/ports';
