/**
 * RIFF/RIFX animated cursors (ACON) → `Heuristics.Exploit.W32.MS05-002` for a malformed `anih`.
 *
 * In: a CL_TYPE_RIFF layer. Out: the alert when the file is `RIFF`/`RIFX` … `ACON` and, walking
 * its chunks from offset 12 (LIST/PROP/FORM/CAT headers entered, other chunks skipped by their
 * padded size), an `anih` chunk declares a size other than 36; nothing otherwise. Only with
 * HeuristicAlerts (ClamAV runs the check only then). Nothing is extracted.
 *
 * Why: ClamAV 1.4's `cli_scanriff` / `cli_check_riff_exploit` (special.c), the check for the
 * animated cursor overflow of MS05-002.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';

/** ClamAV's limit on consecutive list headers entered. */
const MAX_LEVEL = 1000;

const tag = (b: Uint8Array, at: number): string => String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);

/** 'exploit' when an `anih` chunk has a size other than 36, else 'clean'. */
export function riffExploit(bytes: Uint8Array): 'exploit' | 'clean' {
  if (bytes.length < 12) return 'clean';
  const head = tag(bytes, 0);
  if (head !== 'RIFF' && head !== 'RIFX') return 'clean';
  const be = head === 'RIFX';
  if (tag(bytes, 8) !== 'ACON') return 'clean';
  let offset = 12;
  let level = 1;
  for (;;) {
    if (level > MAX_LEVEL) return 'clean';
    if (offset + 8 > bytes.length) return 'clean';
    const id = tag(bytes, offset);
    const s = offset + 4;
    const size = be
      ? ((bytes[s]! << 24) | (bytes[s + 1]! << 16) | (bytes[s + 2]! << 8) | bytes[s + 3]!) >>> 0
      : (bytes[s]! | (bytes[s + 1]! << 8) | (bytes[s + 2]! << 16) | (bytes[s + 3]! << 24)) >>> 0;
    const body = offset + 8;
    if (id === 'anih' && size !== 36) return 'exploit';
    if (id === 'RIFF' || id === 'RIFX') return 'clean';
    if (id === 'LIST' || id === 'PROP' || id === 'FORM' || id === 'CAT ') {
      if (body + 4 > bytes.length) return 'clean';
      offset = body + 4;
      level++;
      continue;
    }
    offset = body + size + (size & 1);
    level = 1;
  }
}

export function* riffItems(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  if (!ctx.options.heuristicAlerts) return;
  if (riffExploit(bytes) === 'exploit') yield { alert: 'Heuristics.Exploit.W32.MS05-002' };
}
