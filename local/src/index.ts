export * from './app';
export * from './config';
export * from './image-source';
