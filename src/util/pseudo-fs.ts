import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { nearestExisting } from './dirs.js';

/** Linux filesystems of the kernel's own making (statfs `f_type`), where no ordinary file can be made. */
const PSEUDO: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'procfs'],
  [0x62656572, 'sysfs'],
  [0x63677270, 'cgroup2'],
  [0x27e0eb, 'cgroupfs'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpffs'],
  [0x62656570, 'configfs'],
  [0x1cd1, 'devpts'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
  [0xf97cff8c, 'selinuxfs'],
]);

/**
 * Why a file cannot be made at `path` because of the filesystem it would be on, or undefined.
 * Such a filesystem answers a mkdir or create with ENOENT, EACCES or EPERM depending on the file
 * and on who asks (root may pass a permission check the kernel then refuses), so neither the
 * daemon's attempt nor `--check-config`'s permission check could say the same thing about it:
 * both ask this first.
 */
export function pseudoFsProblem(path: string): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const dir = nearestExisting(dirname(path));
  let type: number;
  try {
    type = statfsSync(dir).type;
  } catch {
    return undefined; // the attempt that follows names what is wrong
  }
  const name = PSEUDO.get(type);
  return name === undefined ? undefined : `${dir} is on ${name}, where no file can be made: give a path on a real filesystem (under Docker, a volume)`;
}
