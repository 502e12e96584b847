export * from './challenger.js';
export * from './distances.js';
export * from './drift-collector.js';
export * from './forecast-error.js';
export * from './sliding-histogram.js';
