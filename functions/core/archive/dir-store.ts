import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import type { ArchiveStore } from './layout';

/**
 * An ArchiveStore in a local directory (the runner's `--to DIR`, tests, the benchmark). `put`
 * writes a temporary file beside the target, syncs it and renames it over the key: a rename in
 * one directory is atomic, so the key holds either nothing, the old object or the whole new one.
 * A process killed mid-write leaves only a `*.partial` file beside it, never a partial key.
 */
export function createDirectoryStore(directory: string): ArchiveStore {
  const root = resolve(directory);
  const pathOf = (key: string): string => {
    const path = resolve(root, key);
    const inside = relative(root, path);
    if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || resolve(inside) === inside) {
      throw new Error(`archive key ${JSON.stringify(key)} points outside the archive directory ${root}`);
    }
    return path;
  };
  return {
    location: `file://${root}`,
    async put(key, body) {
      const target = pathOf(key);
      await mkdir(dirname(target), { recursive: true });
      const partial = `${target}.${randomBytes(4).toString('hex')}.partial`;
      let bytes = 0;
      const file = await open(partial, 'wx');
      try {
        for await (const chunk of body) {
          await file.write(chunk);
          bytes += chunk.byteLength;
        }
        await file.sync();
      } catch (error) {
        await file.close();
        await rm(partial, { force: true });
        throw error;
      }
      await file.close();
      await rename(partial, target);
      return { bytes };
    },
    async size(key) {
      try {
        return (await stat(pathOf(key))).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async read(key, start, end) {
      const file = await open(pathOf(key), 'r');
      try {
        const buffer = new Uint8Array(Math.max(0, end - start));
        const { bytesRead } = await file.read(buffer, 0, buffer.length, start);
        return buffer.subarray(0, bytesRead);
      } finally {
        await file.close();
      }
    },
  };
}
