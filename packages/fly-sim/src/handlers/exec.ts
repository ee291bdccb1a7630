import { badRequest, SimApiError } from '../api-error.js';
import type { CommandResult } from '../commands/command-result.js';
import { tokenizeShellWords } from '../commands/shell-words.js';
import { invalidState } from '../machine-lifecycle.js';
import type { MachineRecord } from '../model.js';
import { jsonResponse, type RouteSpec } from '../routes.js';
import type { SimWorld } from '../world.js';

/** Runs a command on a started machine, as its exec channel does. */
export type ExecRunner = (
  machine: MachineRecord,
  argv: string[],
  stdin: Buffer,
) => Promise<CommandResult>;

/** Reads the command as argv: `command` (preferred) or the deprecated `cmd` string. */
function commandArgv(request: Record<string, unknown>): string[] {
  const { command, cmd } = request;
  if (Array.isArray(command) && command.length > 0 && command.every((c) => typeof c === 'string')) {
    return command as string[];
  }
  if (typeof cmd === 'string' && cmd.trim() !== '') return tokenizeShellWords(cmd);
  throw badRequest(
    'command is required: an array of strings such as ["printenv", "FLY_MACHINE_ID"]',
  );
}

/** The exec route: runs the sim's machine commands and returns 200 whatever the exit code. */
export function execRoutes(world: SimWorld, run: ExecRunner): RouteSpec[] {
  return [
    {
      method: 'post',
      path: '/v1/apps/:app/machines/:id/exec',
      action: 'machines.exec',
      handle: async ({ params, body }) => {
        const machine = world.getMachine(params.app ?? '', params.id ?? '');
        const request = await body();
        const argv = commandArgv(request);
        if (request.stdin !== undefined && typeof request.stdin !== 'string') {
          throw badRequest('invalid stdin: expected a string');
        }
        if (machine.state !== 'started') throw invalidState(machine, 'exec on');
        if (machine.hostDown) {
          throw new SimApiError(503, {
            error: `failed to exec on machine ${machine.id}: its host is unreachable`,
          });
        }

        const result = await run(machine, argv, Buffer.from(request.stdin ?? '', 'utf8'));
        return jsonResponse({
          exit_code: result.exitCode,
          exit_signal: 0,
          stdout: result.stdout.toString('utf8'),
          stderr: result.stderr.toString('utf8'),
        });
      },
    },
  ];
}
