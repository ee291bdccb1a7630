/**
 * Encoding of the SSH wire types (RFC 4251 section 5) that keys and certificates use.
 */

/** Appends SSH wire values to a growing list of buffers. */
export class SshWriter {
  private readonly parts: Buffer[] = [];

  /** Appends a uint32 in network byte order. */
  uint32(value: number): this {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(value);
    this.parts.push(buffer);
    return this;
  }

  /** Appends a uint64 in network byte order. */
  uint64(value: bigint): this {
    const buffer = Buffer.alloc(8);
    buffer.writeBigUInt64BE(value);
    this.parts.push(buffer);
    return this;
  }

  /** Appends a length-prefixed string (text is encoded as UTF-8). */
  string(value: Buffer | string): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.uint32(bytes.length);
    this.parts.push(bytes);
    return this;
  }

  /** Appends bytes without a length prefix. */
  raw(bytes: Buffer): this {
    this.parts.push(bytes);
    return this;
  }

  /** Returns everything written so far as one buffer. */
  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Reads SSH wire values from a buffer; every read throws on truncated input. */
export class SshReader {
  private offset = 0;

  constructor(private readonly buffer: Buffer) {}

  /** Current read position, in bytes from the start. */
  get position(): number {
    return this.offset;
  }

  /** Whether unread bytes remain. */
  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  uint32(): number {
    this.need(4);
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  uint64(): bigint {
    this.need(8);
    const value = this.buffer.readBigUInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  string(): Buffer {
    const length = this.uint32();
    this.need(length);
    const value = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  text(): string {
    return this.string().toString('utf8');
  }

  private need(bytes: number): void {
    if (this.offset + bytes > this.buffer.length) {
      throw new Error(
        `truncated SSH data: needed ${bytes} bytes at offset ${this.offset} of ${this.buffer.length}`,
      );
    }
  }
}
