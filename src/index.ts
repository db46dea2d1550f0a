/** Gatehouse's programmatic API. */
export { startGatehouse, createGatehouse } from './gatehouse.js';
export type { Gatehouse, RunningGatehouse, StartOptions } from './gatehouse.js';
export { loadConfig, ConfigError } from './config/load-config.js';
export type { Config } from './config/schema.js';
