import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getResponse, type RequestHandler } from 'msw';

/** A running HTTP server that serves msw handlers. */
export interface HandlerServer {
  url: string;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function respond(
  handlers: RequestHandler[],
  origin: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const method = request.method ?? 'GET';
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(request);
  const fetchRequest = new Request(new URL(request.url ?? '/', origin), { method, headers, body });

  const reply = await getResponse(handlers, fetchRequest, { baseUrl: origin });
  if (reply === undefined) {
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: `no route for ${method} ${request.url}` }));
    return;
  }

  // A handler returns Response.error() to request a reset connection.
  if (reply.type === 'error') {
    request.socket.destroy();
    return;
  }
  const responseHeaders: Record<string, string> = {};
  reply.headers.forEach((value, name) => {
    responseHeaders[name] = value;
  });
  response.writeHead(reply.status, responseHeaders);
  response.end(Buffer.from(await reply.arrayBuffer()));
}

/**
 * Serves msw handlers over real HTTP on 127.0.0.1. Handlers respond through msw's
 * `getResponse`, and a handler that returns `Response.error()` resets the connection.
 */
export async function serveHandlers(handlers: RequestHandler[], port = 0): Promise<HandlerServer> {
  let origin = '';
  const server: Server = createServer((request, response) => {
    respond(handlers, origin, request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: `simulator failed: ${(error as Error).message}` }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
