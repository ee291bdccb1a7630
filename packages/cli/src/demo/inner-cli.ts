import { PassThrough, Writable } from 'node:stream';
import { CliError, ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';

/** Target of the demo's runbook commands: the sim's loopback URLs, its token and a temporary state dir. */
export interface InnerCliTarget {
  apiUrl: string;
  graphqlUrl: string;
  sshPort: number;
  token: string;
  flyTomlPath: string;
  stateDir: string;
  cwd: string;
}

/**
 * Runs one `flydr` command in this process through the same `main()` the binary runs,
 * aimed at the simulator, and returns its `--json` document. The command's step list goes
 * to `stderr`, indented under the demo's own lines.
 *
 * @throws CliError naming the demo step when the command fails.
 */
export async function runInnerCli(
  target: InnerCliTarget,
  args: string[],
  stderr: NodeJS.WritableStream,
  env: NodeJS.ProcessEnv,
): Promise<Record<string, unknown>> {
  // Imported here because main.js imports the command list, which includes the demo.
  const { main } = await import('../main.js');
  let stdout = '';
  const io: CliIo = {
    stdin: new PassThrough(),
    stdout: new Writable({
      write(chunk: Buffer, _encoding, done) {
        stdout += chunk.toString('utf8');
        done();
      },
    }),
    stderr: indented(stderr),
    // Only what the command needs: never the caller's FLY_* variables or real endpoints.
    env: {
      FLY_API_TOKEN: target.token,
      HOME: env.HOME,
      PATH: env.PATH,
      ...(env.NO_COLOR === undefined ? {} : { NO_COLOR: env.NO_COLOR }),
    },
    cwd: target.cwd,
  };
  const code = await main(
    [
      ...args,
      '--json',
      '--yes',
      '-c',
      target.flyTomlPath,
      '--state-dir',
      target.stateDir,
      '--api-url',
      target.apiUrl,
      '--graphql-url',
      target.graphqlUrl,
      '--ssh-port',
      String(target.sshPort),
    ],
    io,
  );

  let document: Record<string, unknown>;
  try {
    document = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    throw new CliError(
      `demo: \`flydr ${args.join(' ')}\` printed no JSON document (exit ${code})`,
      ExitCode.OperationFailed,
    );
  }
  if (code !== 0) {
    const error = document.error as { message?: string; hint?: string } | undefined;
    throw new CliError(
      `demo: \`flydr ${args.join(' ')}\` failed with exit ${code}: ${error?.message ?? 'no message'}`,
      ExitCode.OperationFailed,
      error?.hint,
    );
  }
  return document;
}

function indented(target: NodeJS.WritableStream): Writable & { isTTY?: boolean } {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = chunk.toString('utf8').replace(/^(?=.)/gm, '    ');
      target.write(text);
      done();
    },
  });
}
