import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Finds where the proxy sends a request: the health URL of a machine that may serve it. */
export type ProxyTarget = () => { machineId: string; healthUrl: string } | undefined;

/**
 * The app's public endpoint on 127.0.0.1, standing in for `https://<app>.fly.dev`: it sends
 * `GET /health` to a started, uncordoned machine whose app runs, and returns 503 when no
 * machine can serve, as Fly's proxy does.
 */
export class AppProxy {
  private constructor(
    private readonly server: Server,
    /** Base URL, e.g. http://127.0.0.1:PORT. */
    readonly url: string,
  ) {}

  /**
   * Starts the proxy.
   *
   * @throws Error when no port can be bound on 127.0.0.1.
   */
  static async start(appName: string, target: ProxyTarget): Promise<AppProxy> {
    const server = createServer((request, response) => {
      const chosen = target();
      if (request.url !== '/health' || request.method !== 'GET') {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            error: `the simulated app serves only GET /health, not ${request.method} ${request.url}`,
          }),
        );
        return;
      }
      if (chosen === undefined) {
        response.writeHead(503, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            error: `no started, uncordoned machine of ${appName} can serve the request`,
          }),
        );
        return;
      }
      fetch(chosen.healthUrl, { signal: AbortSignal.timeout(5_000) })
        .then(async (upstream) => {
          response.writeHead(upstream.status, {
            'content-type': 'application/json',
            'fly-machine-id': chosen.machineId,
          });
          response.end(await upstream.text());
        })
        .catch((error: unknown) => {
          response.writeHead(502, { 'content-type': 'application/json' });
          response.end(
            JSON.stringify({
              error: `machine ${chosen.machineId} did not respond: ${(error as Error).message}`,
            }),
          );
        });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new AppProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  /** Stops the proxy and its connections. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
