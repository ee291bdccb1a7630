/** Body of a Machines API error response (the ErrorResponse schema plus fly-go's `message`). */
export interface FlyErrorBody {
  error?: string;
  status?: string;
  message?: string;
  [key: string]: unknown;
}

/**
 * An error that the simulated API returns as an HTTP response. Handlers throw it and the
 * route wrapper turns it into a JSON response with this status, body and headers.
 */
export class SimApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: FlyErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.error ?? body.message ?? `HTTP ${status}`);
    this.name = 'SimApiError';
  }
}

/** 400 with `{ error }`, Fly's response to a malformed or invalid request. */
export function badRequest(message: string): SimApiError {
  return new SimApiError(400, { error: message });
}

/** 404 with `{ error }`. */
export function notFound(message: string): SimApiError {
  return new SimApiError(404, { error: message });
}
