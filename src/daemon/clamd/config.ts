/**
 * clamd.conf parsing for the keys the protocol server uses. Syntax as clamd's: `Key value` per
 * line, `#` comments, booleans yes/no/true/false/1/0, sizes with an optional K/M/G suffix (any case),
 * repeatable keys (TCPAddr, ExcludePath). Unknown keys produce a warning, not an error; a bad value
 * for a known key is an error, as in clamd.
 */
import { readFileSync } from 'node:fs';

export interface ClamdConfig {
  localSocket?: string;
  localSocketMode?: number;
  fixStaleSocket: boolean;
  tcpSocket?: number;
  tcpAddr: string[];
  maxConnectionQueueLength: number;
  streamMaxLength: number;
  maxThreads: number;
  maxQueue: number;
  /** Milliseconds. */
  readTimeout: number;
  commandReadTimeout: number;
  idleTimeout: number;
  allowAllMatchScan: boolean;
  maxDirectoryRecursion: number;
  followDirectorySymlinks: boolean;
  followFileSymlinks: boolean;
  excludePath: RegExp[];
  databaseDirectory?: string;
  temporaryDirectory?: string;
  foreground: boolean;
  /** A shell command run for each infected object (`%v`: the virus name; the object's name and the virus name in its environment). */
  virusEvent?: string;
  /** clamd's log (`./log.ts`): an absolute path, and its options. */
  logFile?: string;
  logTime: boolean;
  logClean: boolean;
  logFileMaxSize: number;
  logRotate: boolean;
}

export function defaultConfig(): ClamdConfig {
  return {
    fixStaleSocket: true, tcpAddr: [], maxConnectionQueueLength: 200, streamMaxLength: 100 * 1024 * 1024,
    maxThreads: 10, maxQueue: 100, readTimeout: 120_000, commandReadTimeout: 30_000, idleTimeout: 30_000,
    allowAllMatchScan: true, maxDirectoryRecursion: 15, followDirectorySymlinks: false, followFileSymlinks: false,
    excludePath: [], foreground: false, logTime: false, logClean: false, logFileMaxSize: 1024 * 1024, logRotate: false,
  };
}

export interface ParsedConfig { config: ClamdConfig; warnings: string[]; errors: string[] }

type Kind = 'bool' | 'size' | 'number' | 'string' | 'seconds' | 'ms' | 'octal';

/** Keys understood here (others, including all of clamd's scan options, are accepted with a warning). */
const KEYS: Record<string, Kind> = {
  LocalSocket: 'string', LocalSocketMode: 'octal', FixStaleSocket: 'bool', TCPSocket: 'number', TCPAddr: 'string',
  MaxConnectionQueueLength: 'number', StreamMaxLength: 'size', MaxThreads: 'number', MaxQueue: 'number',
  ReadTimeout: 'seconds', CommandReadTimeout: 'seconds', IdleTimeout: 'seconds', AllowAllMatchScan: 'bool',
  MaxDirectoryRecursion: 'number', FollowDirectorySymlinks: 'bool', FollowFileSymlinks: 'bool', ExcludePath: 'string',
  DatabaseDirectory: 'string', TemporaryDirectory: 'string', Foreground: 'bool', VirusEvent: 'string',
  LogFile: 'string', LogTime: 'bool', LogClean: 'bool', LogFileMaxSize: 'size', LogRotate: 'bool',
};

/** clamd's size syntax: digits with an optional K, M or G suffix (any case). */
export function parseSize(v: string): number | undefined {
  const m = /^(\d+)([kKmMgG]?)$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  const s = (m[2] ?? '').toLowerCase();
  return n * (s === 'k' ? 1024 : s === 'm' ? 1024 ** 2 : s === 'g' ? 1024 ** 3 : 1);
}

export function parseBool(v: string): boolean | undefined {
  const l = v.toLowerCase();
  if (l === 'yes' || l === 'true' || l === '1') return true;
  if (l === 'no' || l === 'false' || l === '0') return false;
  return undefined;
}

export function parseConfig(text: string): ParsedConfig {
  const config = defaultConfig();
  const warnings: string[] = [];
  const errors: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(\S+)(?:\s+(.*))?$/.exec(line);
    const key = m?.[1] ?? '';
    let value = (m?.[2] ?? '').trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (key === 'Example') { errors.push(`line ${i + 1}: the Example line must be removed`); return; }
    const kind = KEYS[key];
    if (!kind) { warnings.push(`line ${i + 1}: ignoring unsupported option ${key}`); return; }
    if (value === '' && kind !== 'bool') { errors.push(`line ${i + 1}: option ${key} requires an argument`); return; }
    const bad = (): void => { errors.push(`line ${i + 1}: incorrect argument for option ${key}: ${value}`); };
    let num: number | undefined;
    switch (kind) {
      case 'bool': {
        const b = value === '' ? true : parseBool(value);
        if (b === undefined) return bad();
        setBool(config, key, b);
        return;
      }
      case 'size': num = parseSize(value); break;
      case 'number': case 'seconds': case 'ms': num = /^\d+$/.test(value) ? Number(value) : undefined; break;
      case 'octal': num = /^[0-7]+$/.test(value) ? parseInt(value, 8) : undefined; break;
      case 'string': setString(config, key, value, errors, i + 1); return;
    }
    if (num === undefined) return bad();
    setNumber(config, key, kind === 'seconds' ? num * 1000 : num);
  });
  return { config, warnings, errors };
}

export function readConfigFile(path: string): ParsedConfig {
  return parseConfig(readFileSync(path, 'utf8'));
}

function setBool(c: ClamdConfig, key: string, b: boolean): void {
  if (key === 'FixStaleSocket') c.fixStaleSocket = b;
  else if (key === 'AllowAllMatchScan') c.allowAllMatchScan = b;
  else if (key === 'FollowDirectorySymlinks') c.followDirectorySymlinks = b;
  else if (key === 'FollowFileSymlinks') c.followFileSymlinks = b;
  else if (key === 'Foreground') c.foreground = b;
  else if (key === 'LogTime') c.logTime = b;
  else if (key === 'LogClean') c.logClean = b;
  else if (key === 'LogRotate') c.logRotate = b;
}

function setNumber(c: ClamdConfig, key: string, n: number): void {
  switch (key) {
    case 'LocalSocketMode': c.localSocketMode = n; break;
    case 'TCPSocket': c.tcpSocket = n; break;
    case 'MaxConnectionQueueLength': c.maxConnectionQueueLength = n; break;
    case 'StreamMaxLength': c.streamMaxLength = n; break;
    case 'MaxThreads': c.maxThreads = n; break;
    case 'MaxQueue': c.maxQueue = n; break;
    case 'ReadTimeout': c.readTimeout = n; break;
    case 'CommandReadTimeout': c.commandReadTimeout = n; break;
    case 'IdleTimeout': c.idleTimeout = n; break;
    case 'MaxDirectoryRecursion': c.maxDirectoryRecursion = n; break;
    case 'LogFileMaxSize': c.logFileMaxSize = n; break;
  }
}

function setString(c: ClamdConfig, key: string, v: string, errors: string[], line: number): void {
  switch (key) {
    case 'LocalSocket': c.localSocket = v; break;
    case 'TCPAddr': c.tcpAddr.push(v); break;
    case 'DatabaseDirectory': c.databaseDirectory = v; break;
    case 'TemporaryDirectory': c.temporaryDirectory = v; break;
    case 'VirusEvent': c.virusEvent = v; break;
    case 'LogFile': c.logFile = v; break;
    case 'ExcludePath':
      try { c.excludePath.push(new RegExp(v)); } catch { errors.push(`line ${line}: bad regular expression for ExcludePath: ${v}`); }
      break;
  }
}
