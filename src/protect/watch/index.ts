/**
 * Real-time scanning (`vigil watch`, `vigil daemon --watch`): the watcher, its exclusions and its
 * persistent state. In: roots, a scanner, a policy. Out: reports, settled file events, state files.
 */
export { Watcher, type WatcherOptions, type WatchReport, type WatcherStats } from './watcher.js';
export { Exclusions, type ExclusionSettings } from './exclude.js';
export { ExclusionGlob, globToRegExp } from './glob.js';
export { readAllStates, readRootState, processAlive, type RootState } from './state.js';
export { inotifyLimits, type InotifyLimits } from './limits.js';
