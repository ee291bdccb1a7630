import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Limits of the test exec endpoint, to exercise chunk size adaptation. */
export interface ExecEndpointLimits {
  /** Answers 413 to request bodies larger than this. */
  maxRequestBytes?: number;
  /** Answers 502 when the JSON answer would be larger than this. */
  maxResponseBytes?: number;
  /** Answers this many requests with 429 and `retry-after: 0`. */
  rateLimited?: number;
  /** Waits this long before running each command. */
  delayMs?: number;
}

/** The Machines API exec endpoint of one test machine, served on 127.0.0.1. */
export interface ExecEndpoint {
  /** Base URL to pass as the client's baseUrl. */
  url: string;
  limits: ExecEndpointLimits;
  /** Commands received, in order. */
  commands: string[][];
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => resolve(Buffer.concat(parts)));
    request.on('error', reject);
  });
}

function runCommand(argv: string[], stdin: string | undefined, binDir: string, machineId: string) {
  return new Promise<{ exit_code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(argv[0] ?? '', argv.slice(1), {
      env: { PATH: binDir, FLY_MACHINE_ID: machineId },
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (part: Buffer) => stdout.push(part));
    child.stderr.on('data', (part: Buffer) => stderr.push(part));
    child.on('error', (error: NodeJS.ErrnoException) => {
      resolve({
        exit_code: error.code === 'ENOENT' ? 127 : 126,
        stdout: '',
        stderr: `${argv[0]}: not found\n`,
      });
    });
    child.on('close', (code) => {
      resolve({
        exit_code: code ?? 1,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
}

/**
 * Serves `POST /v1/apps/:app/machines/:id/exec` for one machine: runs the argv with PATH set
 * to `binDir` and FLY_MACHINE_ID set, and answers `{exit_code, stdout, stderr}` as Fly does.
 */
export async function startExecEndpoint(options: {
  machineId: string;
  binDir: string;
  limits?: ExecEndpointLimits;
}): Promise<ExecEndpoint> {
  const endpoint: ExecEndpoint = {
    url: '',
    limits: options.limits ?? {},
    commands: [],
    close: async () => undefined,
  };
  const pattern = new RegExp(`^/v1/apps/[^/]+/machines/${options.machineId}/exec$`);

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const body = await readBody(request);
    const send = (status: number, json: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(json));
    };
    if (request.method !== 'POST' || !pattern.test(request.url ?? ''))
      return send(404, { error: 'not found' });
    if (endpoint.limits.rateLimited) {
      endpoint.limits.rateLimited -= 1;
      response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
      response.end(JSON.stringify({ error: 'rate limited' }));
      return;
    }
    if (
      endpoint.limits.maxRequestBytes !== undefined &&
      body.length > endpoint.limits.maxRequestBytes
    ) {
      return send(413, { error: 'request body too large' });
    }

    if (endpoint.limits.delayMs)
      await new Promise((resolve) => setTimeout(resolve, endpoint.limits.delayMs));
    const { command, stdin } = JSON.parse(body.toString('utf8')) as {
      command: string[];
      stdin?: string;
    };
    endpoint.commands.push(command);
    const result = await runCommand(command, stdin, options.binDir, options.machineId);
    const answer = JSON.stringify(result);
    if (
      endpoint.limits.maxResponseBytes !== undefined &&
      answer.length > endpoint.limits.maxResponseBytes
    ) {
      return send(502, { error: 'response too large' });
    }
    send(200, result);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500);
      response.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  endpoint.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return endpoint;
}
