/**
 * The Linux inotify limits that bound real-time watching.
 *
 * In: /proc (`/proc/sys/fs/inotify/*` and, for the current usage, every readable
 * `/proc/PID/fdinfo/FD` of an inotify descriptor). Out: the limits and how many watches and
 * instances are in use (by this user's processes that we can read: all of them when root). Why:
 * one inotify watch is needed per watched directory, and the limit is per user; `vigil status`
 * says what the limits allow, and the scale test skips with the figures when they are too low.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface InotifyLimits {
  /** `fs.inotify.max_user_watches`: directories one user can watch in all. */
  maxUserWatches?: number;
  /** `fs.inotify.max_user_instances`: watcher instances per user (one per watching process here). */
  maxUserInstances?: number;
  /** `fs.inotify.max_queued_events`: events queued before the kernel drops some (IN_Q_OVERFLOW). */
  maxQueuedEvents?: number;
  /** Watches and instances in use by the processes we can read (undefined when /proc is not there). */
  watchesInUse?: number;
  instancesInUse?: number;
}

function readNum(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The limits (Linux; all fields undefined elsewhere). `countUsage` walks /proc (a few ms per hundred processes). */
export function inotifyLimits(countUsage = true): InotifyLimits {
  const out: InotifyLimits = {};
  const w = readNum('/proc/sys/fs/inotify/max_user_watches');
  const i = readNum('/proc/sys/fs/inotify/max_user_instances');
  const q = readNum('/proc/sys/fs/inotify/max_queued_events');
  if (w !== undefined) out.maxUserWatches = w;
  if (i !== undefined) out.maxUserInstances = i;
  if (q !== undefined) out.maxQueuedEvents = q;
  if (countUsage && w !== undefined) {
    const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
    let watches = 0;
    let instances = 0;
    let pids: string[] = [];
    try {
      pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
    } catch {
      return out;
    }
    for (const pid of pids) {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const m = /^Uid:\s+(\d+)/m.exec(status);
        if (uid >= 0 && m && Number(m[1]) !== uid) continue; // the limits are per user
        for (const fd of readdirSync(`/proc/${pid}/fd`)) {
          let target: string;
          try { target = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
          if (target !== 'anon_inode:inotify') continue;
          instances++;
          try {
            const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
            watches += (info.match(/^inotify wd:/gm) ?? []).length;
          } catch { /* gone meanwhile */ }
        }
      } catch {
        // a process that ended, or one we may not read
      }
    }
    out.watchesInUse = watches;
    out.instancesInUse = instances;
  }
  return out;
}
