/**
 * The ransomware shield's public surface.
 *
 * In: nothing (re-exports). Out: `Shield` (protect folders: canaries, change signals, containment
 * of the writer, alert records), the pure `Detector` (feed it `FileEvent`s), `Canaries`, the
 * process search and signalling helpers, and the format sniffers the detector relies on.
 * Why: the daemon and the CLI wire the shield to the real-time watcher's events and chain an
 * alert to rollback; they need these and nothing of the internals.
 */
export { Shield, parseShieldAction, type AlertRecord, type ShieldAction, type ShieldOptions, type ShieldProcess } from './shield.js';
export { Detector, type Alert, type Signal, type SignalKind, type DetectorOptions, type CanaryOracle } from './detector.js';
export { Canaries, DEFAULT_CANARIES, type CanaryRecord, type CanarySpec } from './canary.js';
export {
  FatraceFeed, canAttribute, describe, hunt, processState, scanProcesses, signalProcess, untouchablePids, type ProcessInfo,
} from './process.js';
export { sniffMagic, lookAtFile, shannon, type FileLook, type Magic } from './sniff.js';
export { isNote, matchNote, noteName, noteText } from './notes.js';
