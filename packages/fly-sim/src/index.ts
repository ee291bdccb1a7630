export { type FlyErrorBody, SimApiError } from './api-error.js';
export { CAPACITY_ERROR_SHAPES } from './capacity-errors.js';
export type { FaultHandle, FaultSpec } from './faults.js';
export { createMswDispatcher, type MswHandlerSource } from './msw-dispatcher.js';
export type {
  CapacityErrorShapeName,
  SimImageSpec,
  SimLatencies,
  SimOptions,
  SimRateLimit,
  SimRegionSpec,
} from './options.js';
export { INSTANT_LATENCIES, REALISTIC_LATENCIES } from './options.js';
export type { SimRequest, SimRequestSummary } from './request-log.js';
export { Sim, type SimRoute, type SshDropHandle, startSim } from './sim.js';
export type {
  AppWriterView,
  SeededMachine,
  SeedMachineOptions,
  SimMachineView,
} from './sim-controls.js';
export type { DatabaseWriteViolation, SplitBrainViolation, Violation } from './violations.js';
