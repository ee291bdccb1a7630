/** Key under which a client keeps its internal context, for helpers such as withLease. */
export const CLIENT_CONTEXT: unique symbol = Symbol('@flydr/fly-client.context');
