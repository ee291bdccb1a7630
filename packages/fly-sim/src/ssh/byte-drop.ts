import type { Socket } from 'node:net';

/** A rule that cuts SSH connections after they carry a number of bytes. */
interface DropRule {
  bytes: number;
  /** How many more connections the rule will cut. */
  remaining: number;
  /** Called after each cut. */
  onCut?: () => void;
}

/**
 * Cuts connections once they have carried `bytes` bytes (both directions), counted from
 * when the rule was armed or the connection opened, whichever is later. Each cut uses up
 * one of the rule's `times`.
 */
export class ByteDropper {
  private rule: DropRule | undefined;
  private readonly counters = new Map<Socket, number>();

  /** Arms the rule; replaces an armed one and restarts every open connection's count. */
  arm(bytes: number, times: number, onCut?: () => void): void {
    if (!(bytes >= 0) || !(times > 0)) {
      throw new Error(
        `dropSshAfterBytes needs bytes >= 0 and times > 0, got ${bytes} and ${times}`,
      );
    }
    this.rule = { bytes, remaining: times, ...(onCut === undefined ? {} : { onCut }) };
    for (const socket of this.counters.keys()) this.counters.set(socket, 0);
  }

  /** Starts counting a socket's bytes. */
  watch(socket: Socket): void {
    this.counters.set(socket, 0);
    socket.on('close', () => this.counters.delete(socket));
    socket.on('data', (chunk: Buffer) => this.count(socket, chunk.length));

    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      const length =
        typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Buffer).length;
      const accepted = write(chunk, ...rest);
      this.count(socket, length);
      return accepted;
    }) as Socket['write'];
  }

  private count(socket: Socket, bytes: number): void {
    const rule = this.rule;
    if (rule === undefined || socket.destroyed) return;
    const total = (this.counters.get(socket) ?? 0) + bytes;
    this.counters.set(socket, total);
    if (total < rule.bytes) return;

    rule.remaining -= 1;
    if (rule.remaining <= 0) this.rule = undefined;
    socket.destroy();
    rule.onCut?.();
  }
}
