export * from './config';
export * from './modules';
export * from './image-source';
