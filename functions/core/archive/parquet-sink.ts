import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { ByteWriter } from 'hyparquet-writer';

/**
 * A hyparquet-writer Writer that hands every finished row group (and the footer) to a stream
 * and waits while the stream is full, so memory holds about one row group, not the file.
 * ParquetWriter calls `flush()` after each row group and awaits it.
 */
export class StreamSink extends ByteWriter {
  constructor(private readonly stream: Writable) {
    super(1 << 20);
  }

  async flush(): Promise<void> {
    if (this.index === 0) return;
    // A copy: the writer reuses its buffer for the next row group.
    const chunk = new Uint8Array(this.buffer.slice(0, this.index));
    this.index = 0;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  override async finish(): Promise<void> {
    await this.flush();
    this.stream.end();
  }
}
