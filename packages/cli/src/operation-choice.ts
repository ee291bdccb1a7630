import type { DisasterRecovery } from '@flydr/dr-core';
import { UsageError } from './exit-codes.js';

/**
 * Returns the operation id given on the command line, or the one unfinished operation.
 *
 * @throws UsageError when no id is given and there is not exactly one unfinished operation.
 */
export async function chooseOperation(
  dr: DisasterRecovery,
  given: unknown,
  verb: string,
): Promise<string> {
  if (typeof given === 'string' && given !== '') return given;

  const unfinished = (await dr.status()).unfinishedOperations;
  if (unfinished.length === 1) return (unfinished[0] as { id: string }).id;
  throw new UsageError(
    unfinished.length === 0
      ? `no unfinished operation of ${dr.app} to ${verb}`
      : `${unfinished.length} unfinished operations of ${dr.app}: ${unfinished.map((o) => o.id).join(', ')}`,
    unfinished.length === 0
      ? 'run `flydr status` to see the state of the app'
      : `pass one of them: flydr ${verb} <id>`,
  );
}
