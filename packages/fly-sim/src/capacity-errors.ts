import { SimApiError } from './api-error.js';
import type { CapacityErrorShapeName } from './options.js';

/** Capacity failure: the resource that ran out, with the values the error bodies name. */
export type CapacityFailure =
  | { kind: 'machine'; region: string; volumeId?: string }
  | { kind: 'volume'; region: string };

interface Shape {
  name: CapacityErrorShapeName;
  appliesTo(failure: CapacityFailure): boolean;
  build(failure: CapacityFailure): SimApiError;
}

// The bodies and status codes below are the ones reported for Fly's Machines API: a 412 for a
// create whose volume's host is full, a 409 "could not reserve resource" from flyd, and the
// ErrorResponse `status` values insufficient_capacity and volume_placement_capacity.
const SHAPES: Shape[] = [
  {
    name: 'create-with-volume-412',
    appliesTo: (failure) => failure.kind === 'machine' && failure.volumeId !== undefined,
    build: (failure) =>
      new SimApiError(412, {
        error: `insufficient resources to create new machine with existing volume '${failure.kind === 'machine' ? failure.volumeId : ''}'`,
      }),
  },
  {
    name: 'reserve-resource-409',
    appliesTo: (failure) => failure.kind === 'machine',
    build: () =>
      new SimApiError(409, {
        error:
          'aborted: could not reserve resource for machine: insufficient memory available to fulfill request',
      }),
  },
  {
    name: 'insufficient-capacity-status',
    appliesTo: (failure) => failure.kind === 'machine',
    build: (failure) =>
      new SimApiError(412, {
        error: `insufficient capacity in region ${failure.region}; choose a different region`,
        status: 'insufficient_capacity',
      }),
  },
  {
    name: 'volume-placement-status',
    appliesTo: (failure) => failure.kind === 'volume',
    build: (failure) =>
      new SimApiError(412, {
        error: `no host in region ${failure.region} has room for the requested volume`,
        status: 'volume_placement_capacity',
      }),
  },
  {
    name: 'volume-insufficient-resources',
    appliesTo: (failure) => failure.kind === 'volume',
    build: (failure) =>
      new SimApiError(412, {
        error: `insufficient resources to create volume in region ${failure.region}`,
      }),
  },
];

/** Names of every capacity error shape, in rotation order. */
export const CAPACITY_ERROR_SHAPES: readonly CapacityErrorShapeName[] = SHAPES.map((s) => s.name);

/**
 * Picks the capacity error body for a failure: the pinned shape when it applies, else the
 * next applicable shape in rotation so that repeated failures show every shape.
 */
export class CapacityErrorPicker {
  private counter = 0;

  constructor(private readonly mode: 'rotate' | CapacityErrorShapeName) {}

  /** Returns the error to send for this failure. */
  errorFor(failure: CapacityFailure): SimApiError {
    const applicable = SHAPES.filter((shape) => shape.appliesTo(failure));
    const pinned = applicable.find((shape) => shape.name === this.mode);
    if (pinned !== undefined) return pinned.build(failure);

    const shape = applicable[this.counter % applicable.length];
    this.counter += 1;
    if (shape === undefined) throw new Error(`no capacity error shape for ${failure.kind}`);
    return shape.build(failure);
  }
}
