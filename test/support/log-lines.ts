import { Writable } from 'node:stream';

/** A stream for a test's pino logger that appends each line written to it to `lines`. */
export function linesSink(lines: string[]): Writable {
  return new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
}
