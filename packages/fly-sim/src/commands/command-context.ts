import type { SimImageSpec } from '../options.js';
import type { MachineFiles } from './machine-files.js';

/** Context of a command on a simulated machine: its files, image and environment. */
export interface CommandContext {
  machineId: string;
  files: MachineFiles;
  image: SimImageSpec;
  /** The machine's environment (config env plus FLY_* variables). */
  env: Record<string, string>;
  /** Reads all of standard input; commands that never call it run without waiting for EOF. */
  stdin(): Promise<Buffer>;
}
