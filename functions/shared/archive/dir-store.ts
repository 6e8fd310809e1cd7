import { randomBytes } from 'node:crypto';
import { mkdir, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { ArchiveStore } from './store';

/**
 * An ArchiveStore in a local directory (the runner's `--to DIR`, tests, the benchmark). `put`
 * writes a temporary file beside the target, syncs it and renames it over the key: a rename in
 * one directory is atomic, so the key holds either nothing, the old object or the whole new one.
 * A process killed mid-write leaves only a `*.partial` file beside it, never a partial key.
 *
 * Every key stays inside the directory: a key with an empty, `.` or `..` segment is refused
 * (the ledger would record one path while the file lands at another), and so is a key that a
 * symbolic link inside the directory (a folder or the file) would lead elsewhere: the deepest
 * part of the path that exists is resolved with realpath before anything is created, written or
 * read there.
 */
export function createDirectoryStore(directory: string): ArchiveStore {
  const root = resolve(directory);
  const outside = (key: string, why: string) =>
    new Error(
      `archive key ${JSON.stringify(key)} points outside the archive directory ${root} (${why}); nothing was written or read there`,
    );
  const isInside = (base: string, path: string) => {
    const inside = relative(base, path);
    return inside === '' || (inside !== '..' && !inside.startsWith(`..${sep}`) && !isAbsolute(inside));
  };
  const pathOf = (key: string): string => {
    if (key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..') || key.includes('\\')) {
      throw outside(key, 'an empty, . or .. segment');
    }
    const path = resolve(root, key);
    if (path === root || !isInside(root, path)) throw outside(key, 'not below it');
    return path;
  };
  /** `path`, once the deepest part of it that exists resolves (symbolic links followed) inside the directory. */
  const contained = async (key: string, path: string): Promise<string> => {
    const realRoot = await realpath(root);
    for (let existing = path; ; existing = dirname(existing)) {
      let real: string;
      try {
        real = await realpath(existing);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' && existing !== root) continue;
        throw error;
      }
      if (!isInside(realRoot, real)) throw outside(key, `${existing} leads to ${real}`);
      return path;
    }
  };
  return {
    location: `file://${root}`,
    async put(key, body) {
      const path = pathOf(key);
      await mkdir(root, { recursive: true });
      const target = await contained(key, path);
      await mkdir(dirname(target), { recursive: true });
      // mkdir made only real folders below a checked one; a link swapped in meanwhile is caught here.
      await contained(key, dirname(target));
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
        return (await stat(await contained(key, pathOf(key)))).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async read(key, start, end) {
      const file = await open(await contained(key, pathOf(key)), 'r');
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
