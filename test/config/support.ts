/**
 * Helpers for the configuration tests (not a test file itself): temporary config files.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A directory under os.tmpdir() for config files, removed by `cleanup()`. */
export function tempConfigDir() {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
  let n = 0;
  return {
    dir,
    /** Writes `content` (JSON-encoded unless a string) to a new file and returns its path. */
    write(content: unknown, name = `config-${(n += 1)}.json`): string {
      const path = join(dir, name);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
      return path;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
