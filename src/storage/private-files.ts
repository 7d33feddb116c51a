/**
 * The data directory (ZONEGATE_DATA_DIR, default ./.zonegate) holds everything that opens the
 * installation: the SQLite store (zones, users, sessions, sealed keys), the generated secret key that
 * unseals them, and the application's xsuaa credentials. Only its owner may read it: directories
 * 0700, files 0600 (issue 9).
 *
 * The modes are set explicitly, not left to the umask: a mode given on creation is narrowed by the
 * umask but never widened, and many container images run with 002 or 000; so every directory and
 * file this process creates is chmod'ed afterwards. An existing directory or file is left as the
 * operator made it (they may share it on purpose); start-up names it instead (exposedDataFiles).
 */
import fs from 'node:fs';
import path from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` and any missing parents as 0700; directories that already exist are not touched. */
export function makePrivateDir(dir: string): void {
  const first = fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return;
  // mkdirSync returns the outermost directory it created: chmod from `dir` up to that one.
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    fs.chmodSync(p, PRIVATE_DIR_MODE);
    if (p === path.resolve(first) || p === path.dirname(p)) break;
  }
}

/** Creates an empty 0600 file if there is none; true if this call created it. */
export function createPrivateFile(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    fs.fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/**
 * Writes a new 0600 file; it fails with EEXIST if the file exists, so of two
 * processes writing at once only one does, and a file planted beforehand (a symlink) is never followed.
 */
export function writePrivateFile(file: string, text: string): void {
  const fd = fs.openSync(file, 'wx', PRIVATE_FILE_MODE);
  try {
    fs.fchmodSync(fd, PRIVATE_FILE_MODE);
    fs.writeFileSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

export interface ExposedPath {
  path: string;
  /** Permission bits as octal text, e.g. "755". */
  mode: string;
  problem: string;
}

/**
 * The data directory itself and the files in it that other users can read, write or enter (a
 * directory made by a version before 0700/0600, or by hand). Empty when the directory does not exist.
 */
export function exposedDataFiles(dataDir: string): ExposedPath[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dataDir, { withFileTypes: true });
  } catch (err) {
    // Nothing there yet (created private at first use), or not a directory (the store's open says so).
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  const exposed: ExposedPath[] = [];
  const check = (p: string, kind: 'directory' | 'file') => {
    const mode = fs.lstatSync(p).mode & 0o777;
    if ((mode & 0o077) === 0) return;
    const who = [mode & 0o070 ? 'group' : '', mode & 0o007 ? 'others' : ''].filter(Boolean).join(' and ');
    exposed.push({
      path: p,
      mode: mode.toString(8),
      problem: `${kind} is accessible to ${who}; run chmod ${kind === 'directory' ? '700' : '600'} on it`,
    });
  };
  check(path.resolve(dataDir), 'directory');
  for (const entry of entries) {
    if (entry.isFile()) check(path.join(path.resolve(dataDir), entry.name), 'file');
  }
  return exposed;
}
