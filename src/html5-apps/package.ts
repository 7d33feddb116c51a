/**
 * Reads one built HTML5 application, a directory or a zip, as SAP's HTML5 application deployer
 * uploads it (@sap/html5-app-deployer): `manifest.json` at its root names it (`sap.app.id`) and its
 * version (`sap.app.applicationVersion.version`); `sap.cloud.service` and `sap.cloud.public` group
 * it; its own `xs-app.json`, when present, routes requests inside it (./serve.ts).
 *
 * Zips are read with yauzl, which refuses entry names that are absolute or hold `..` or `\` (zip
 * slip) and checks every entry's real size against its declared one; on top, limits on the number of
 * files and on the bytes of one file and of all (a zip bomb stops at the limit, whatever its headers
 * claim). Every problem of a package is reported at once, each with the package, the file and the JSON
 * path, before anything is stored.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import yauzl from 'yauzl';
import { parseJsonText } from '../config/json-text.js';
import { validateRoutesDocument } from '../config/routes.js';
import type { RoutesFile } from '../config/types.js';
import { ConfigError, formatProblem, GatewayError, type ConfigProblem } from '../errors.js';

export interface PackageLimits {
  /** Files in one application. */
  maxFiles: number;
  /** Bytes of one file, uncompressed. */
  maxFileBytes: number;
  /** Bytes of all files of one application, uncompressed. */
  maxTotalBytes: number;
}

/** SAP's HTML5 application repository allows 100 MB per app-host instance; one application gets 50 MB here. */
export const DEFAULT_PACKAGE_LIMITS: PackageLimits = { maxFiles: 10_000, maxFileBytes: 20 * 1024 * 1024, maxTotalBytes: 50 * 1024 * 1024 };

export interface AppFile {
  /** `/index.html`: below the application's root, `/`-separated. */
  path: string;
  content: Buffer;
  /** SHA-256 of the content, base64url: the file's strong ETag. */
  sha256: string;
}

export interface AppPackage {
  /** What was read, for messages: the directory or zip as named. */
  source: string;
  /** `sap.app.id`, e.g. `com.example.orders`. */
  appId: string;
  /** The id without its dots (`comexampleorders`): the name URLs use. */
  name: string;
  /** `sap.app.applicationVersion.version`, `major.minor.patch`. */
  version: string;
  /** `sap.cloud.service`, when set. */
  service: string | undefined;
  /** `sap.cloud.public`. */
  public: boolean;
  /** The application's xs-app.json, validated; undefined when it has none. */
  xsApp: RoutesFile | undefined;
  files: AppFile[];
  totalBytes: number;
  /** SHA-256 over every file's path and digest: the same content deploys to the same digest. */
  digest: string;
}

/** A package that cannot be deployed: every problem, each naming package, file and JSON path. */
export class AppInvalid extends GatewayError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super('ZG_ERR_APP_INVALID', `Invalid HTML5 application (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map(formatProblem).join('\n')}`);
    this.problems = problems;
  }
}

/** SAP's runtime URL takes the version from `-<digits>.<digits>.<digits>` at the end of the first segment. */
const VERSION = /^\d+\.\d+\.\d+$/;
/** `sap.app.id` (the UI5 descriptor's schema: letters, digits, `_` and `.`); its name without dots is SAP's appNameRegex. */
const APP_ID = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$/;
const SERVICE = /^[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*$/;
/** Names the URL form `/<name>` would mistake for the gateway's own paths, as SAP blocks "login" and "favicon.ico". */
const RESERVED_NAMES = new Set(['login', 'logout', 'healthz', 'readyz', 'metrics', 'callback', 'user-api']);

/** Reads a package from a zip file or a directory; rejects with AppInvalid naming every problem. */
export async function readAppPackage(source: string, limits: PackageLimits = DEFAULT_PACKAGE_LIMITS): Promise<AppPackage> {
  let info;
  try {
    info = await lstat(source);
  } catch (err) {
    throw new AppInvalid([{ file: source, path: '', message: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  const files = info.isDirectory() ? await readDirectory(source, limits) : await readZipFile(source, limits);
  return packageFrom(source, files);
}

/** Reads a package from the bytes of a zip (the admin API's request body). */
export async function readAppZip(source: string, zip: Buffer, limits: PackageLimits = DEFAULT_PACKAGE_LIMITS): Promise<AppPackage> {
  const files = await readZip(source, limits, (cb) => yauzl.fromBuffer(zip, ZIP_OPTIONS, cb));
  return packageFrom(source, files);
}

function packageFrom(source: string, files: Map<string, Buffer>): AppPackage {
  const problems: ConfigProblem[] = [];
  const manifestFile = `${source}/manifest.json`;
  const manifest = files.get('/manifest.json');
  let appId: string | undefined;
  let version: string | undefined;
  let service: string | undefined;
  let isPublic = false;
  if (manifest === undefined) {
    // A zip of the build folder rather than of its content is the usual mistake: say where it is.
    const nested = [...files.keys()].filter((p) => p.endsWith('/manifest.json')).sort((a, b) => a.length - b.length)[0];
    const hint = nested ? `; found ${nested.slice(1)}: deploy that folder, or zip its content` : '';
    problems.push({ file: source, path: '', message: `has no manifest.json at its root (expected the built application: manifest.json beside index.html)${hint}` });
  } else {
    const parsed = parseJsonText(manifest.toString('utf8'), manifestFile);
    if (!parsed.ok) problems.push(parsed.problem);
    else ({ appId, version, service, isPublic } = readManifest(parsed.value, manifestFile, problems));
  }

  let xsApp: RoutesFile | undefined;
  const xsAppBytes = files.get('/xs-app.json');
  if (xsAppBytes !== undefined) {
    const file = `${source}/xs-app.json`;
    const parsed = parseJsonText(xsAppBytes.toString('utf8'), file);
    if (!parsed.ok) problems.push(parsed.problem);
    else {
      try {
        // Destinations are the gateway's, looked up when a request comes (the application may be
        // deployed before its destination is configured, as in SAP's repository).
        xsApp = validateRoutesDocument(parsed.value, file, { destinationNames: undefined }).config;
        problems.push(...appOnlyProblems(xsApp, file));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push(...err.problems);
      }
    }
  }
  if (problems.length > 0) throw new AppInvalid(problems);

  const appFiles: AppFile[] = [...files]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([p, content]) => ({ path: p, content, sha256: createHash('sha256').update(content).digest('base64url') }));
  const digest = createHash('sha256');
  for (const f of appFiles) digest.update(`${f.path}\0${f.sha256}\n`);
  return {
    source,
    appId: appId!,
    name: appId!.replaceAll('.', ''),
    version: version!,
    service,
    public: isPublic,
    xsApp,
    files: appFiles,
    totalBytes: appFiles.reduce((n, f) => n + f.content.length, 0),
    digest: digest.digest('base64url'),
  };
}

function readManifest(doc: unknown, file: string, problems: ConfigProblem[]) {
  const problem = (p: string, message: string) => problems.push({ file, path: p, message });
  const sapApp = objectAt(doc, 'sap.app');
  const id = sapApp?.['id'];
  let appId: string | undefined;
  if (typeof id !== 'string') problem('/sap.app/id', 'is required: the application id, e.g. "com.example.orders"');
  else if (!APP_ID.test(id) || id.length > 200) problem('/sap.app/id', `expected letters, digits and "_", separated by dots, got ${JSON.stringify(id)}`);
  else if (RESERVED_NAMES.has(id.replaceAll('.', '').toLowerCase())) problem('/sap.app/id', `"${id}" would hide the gateway's own path /${id.replaceAll('.', '')}; choose another id`);
  else appId = id;
  const v = objectAt(sapApp, 'applicationVersion')?.['version'];
  let version: string | undefined;
  if (typeof v !== 'string') problem('/sap.app/applicationVersion/version', 'is required: the version, e.g. "1.0.0"');
  else if (!VERSION.test(v) || v.length > 50) problem('/sap.app/applicationVersion/version', `expected major.minor.patch (digits only, as URLs name it: /<app>-1.0.0/), got ${JSON.stringify(v)}`);
  else version = v;
  const cloud = objectAt(doc, 'sap.cloud');
  let service: string | undefined;
  const s = cloud?.['service'];
  if (s !== undefined) {
    if (typeof s !== 'string' || !SERVICE.test(s)) problem('/sap.cloud/service', `expected a service name of letters, digits and "_", separated by dots, got ${JSON.stringify(s)}`);
    else service = s;
  }
  const p = cloud?.['public'];
  if (p !== undefined && typeof p !== 'boolean') problem('/sap.cloud/public', `expected boolean, got ${typeof p}`);
  return { appId, version, service, isPublic: p === true };
}

/**
 * What an application's xs-app.json may not do, though a gateway's routes.json may: read the gateway's
 * own files (`errorPage` files are paths on the gateway's disk), or name a `localDir` that leaves the
 * application (it means a folder of the application here).
 */
function appOnlyProblems(xsApp: RoutesFile, file: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (xsApp.errorPage !== undefined) problems.push({ file, path: '/errorPage', message: "is not supported in an application's xs-app.json (its files would be read from the gateway's disk)" });
  (xsApp.routes ?? []).forEach((route, i) => {
    if (route.localDir !== undefined && appFolder(route.localDir) === undefined) {
      problems.push({ file, path: `/routes/${i}/localDir`, message: `expected a folder inside the application, got ${JSON.stringify(route.localDir)}` });
    }
  });
  return problems;
}

/** A route's `localDir` as a folder of the application (`''` its root, `/webapp`); undefined when it leaves it. */
export function appFolder(localDir: string): string | undefined {
  const segments = localDir.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..' || s.includes('\\'))) return undefined;
  return segments.length ? `/${segments.join('/')}` : '';
}

function objectAt(doc: unknown, key: string): Record<string, unknown> | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const v = (doc as Record<string, unknown>)[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

class Budget {
  files = 0;
  total = 0;
  constructor(
    readonly source: string,
    readonly limits: PackageLimits,
  ) {}
  /** Counts a file about to be read; throws when the package would exceed a limit. */
  file(name: string, declaredSize: number): void {
    if (++this.files > this.limits.maxFiles) throw this.problem('', `has more than ${this.limits.maxFiles} files`);
    if (declaredSize > this.limits.maxFileBytes) throw this.problem(name, `is larger than ${this.limits.maxFileBytes} bytes`);
  }
  /** Counts bytes as they are read, whatever the headers declared. */
  bytes(name: string, fileBytes: number, n: number): void {
    if (fileBytes > this.limits.maxFileBytes) throw this.problem(name, `is larger than ${this.limits.maxFileBytes} bytes`);
    this.total += n;
    if (this.total > this.limits.maxTotalBytes) throw this.problem('', `holds more than ${this.limits.maxTotalBytes} bytes uncompressed`);
  }
  problem(name: string, message: string): AppInvalid {
    return new AppInvalid([{ file: name ? `${this.source}/${name.replace(/^\//, '')}` : this.source, path: '', message }]);
  }
}

async function readDirectory(root: string, limits: PackageLimits): Promise<Map<string, Buffer>> {
  const budget = new Budget(root, limits);
  const files = new Map<string, Buffer>();
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const rel = `${prefix}/${entry.name}`;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full, rel);
      else if (entry.isFile()) {
        budget.file(rel, (await lstat(full)).size);
        const content = await readFile(full);
        budget.bytes(rel, content.length, content.length);
        files.set(rel, content);
      } else {
        // A symbolic link may point anywhere on the machine that deploys: never followed.
        throw budget.problem(rel, 'is not a regular file (symbolic links are not followed)');
      }
    }
  };
  await walk(root, '');
  return files;
}

const ZIP_OPTIONS = { lazyEntries: true, autoClose: true, decodeStrings: true, validateEntrySizes: true, strictFileNames: false } as const;

function readZipFile(file: string, limits: PackageLimits): Promise<Map<string, Buffer>> {
  return readZip(file, limits, (cb) => yauzl.open(file, ZIP_OPTIONS, cb));
}

function readZip(source: string, limits: PackageLimits, open: (cb: (err: Error | null, zip: yauzl.ZipFile) => void) => void): Promise<Map<string, Buffer>> {
  const budget = new Budget(source, limits);
  const files = new Map<string, Buffer>();
  return new Promise((resolve, reject) => {
    let failed = false;
    const fail = (zip: yauzl.ZipFile | undefined, err: unknown) => {
      if (failed) return;
      failed = true;
      zip?.close();
      reject(err instanceof AppInvalid ? err : zipProblem(source, err));
    };
    open((err, zip) => {
      if (err) return fail(undefined, err);
      zip.on('error', (e: unknown) => fail(zip, e));
      zip.on('end', () => !failed && resolve(files));
      zip.on('entry', (entry: yauzl.Entry) => {
        if (failed) return;
        const name = entry.fileName;
        if (name.endsWith('/')) return zip.readEntry();
        // `./index.html` and `index.html` are one file; yauzl has refused `..` already.
        const rel = `/${name.split('/').filter((s) => s !== '' && s !== '.').join('/')}`;
        try {
          if (files.has(rel)) throw budget.problem(rel, 'is in the zip twice');
          budget.file(rel, entry.uncompressedSize);
        } catch (e) {
          return fail(zip, e);
        }
        zip.openReadStream(entry, (e, stream) => {
          if (e) return fail(zip, e);
          const chunks: Buffer[] = [];
          let size = 0;
          stream.on('data', (chunk: Buffer) => {
            size += chunk.length;
            try {
              budget.bytes(rel, size, chunk.length);
            } catch (problem) {
              stream.destroy();
              return fail(zip, problem);
            }
            chunks.push(chunk);
          });
          stream.on('error', (se: unknown) => fail(zip, se));
          stream.on('end', () => {
            if (failed) return;
            files.set(rel, Buffer.concat(chunks, size));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

/** yauzl's refusals, as the one line an operator needs: which zip, which entry, what is wrong. */
function zipProblem(source: string, err: unknown): AppInvalid {
  const message = err instanceof Error ? err.message : String(err);
  const unsafe = /^(?:invalid relative path|absolute path|invalid characters in fileName): (.*)$/.exec(message);
  if (unsafe) return new AppInvalid([{ file: source, path: '', message: `entry ${JSON.stringify(unsafe[1])} leaves the application's root (absolute, "..", or "\\" in its name): refused` }]);
  return new AppInvalid([{ file: source, path: '', message: `is not a readable zip: ${message}` }]);
}
