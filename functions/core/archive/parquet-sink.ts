import type { Writable } from 'node:stream';
import { ByteWriter } from 'hyparquet-writer';

/**
 * A hyparquet-writer Writer that hands every finished row group (and the footer) to a stream
 * and waits while the stream is full, so memory holds about one row group, not the file.
 * ParquetWriter calls `flush()` after each row group and awaits it. Every chunk also goes to
 * `hasher`, in order: the content hash of the file the store is given (see object-digest.ts).
 */
export class StreamSink extends ByteWriter {
  constructor(
    private readonly stream: Writable,
    private readonly hasher: { update(chunk: Uint8Array): void },
  ) {
    super(1 << 20);
  }

  async flush(): Promise<void> {
    if (this.index === 0) return;
    // A copy: the writer reuses its buffer for the next row group.
    const chunk = new Uint8Array(this.buffer.slice(0, this.index));
    this.index = 0;
    this.hasher.update(chunk);
    if (this.stream.destroyed) throw this.stream.errored ?? new Error('the archive stream was closed');
    if (!this.stream.write(chunk)) await drained(this.stream);
  }

  override async finish(): Promise<void> {
    await this.flush();
    this.stream.end();
  }
}

/** Resolves when `stream` drains; rejects when it is destroyed first (its consumer failed). */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => settle(resolve);
    const onClose = () => settle(() => reject(stream.errored ?? new Error('the archive stream was closed')));
    const settle = (done: () => void) => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      done();
    };
    stream.on('drain', onDrain);
    stream.on('close', onClose);
  });
}
