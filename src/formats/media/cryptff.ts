/**
 * CryptFF → the file it hides.
 *
 * In: a CL_TYPE_CRYPTFF layer (a 16-byte header starting `b6 b9 ac ae fe ff ff ff`, then the
 * hidden file with every byte inverted). Out: one child, the bytes after the header XORed with
 * 0xFF, scanned as a file of its own; nothing when there are none.
 *
 * Why: ClamAV 1.4's `cli_scancryptff` (scanners.c) decrypts from offset 0x10 to the end and scans
 * the result.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';

const HEADER = 0x10;

export function* cryptffItems(bytes: Uint8Array, _ctx: UnpackContext): Iterable<UnpackItem> {
  if (bytes.length <= HEADER) return;
  const out = new Uint8Array(bytes.length - HEADER);
  for (let i = 0, j = HEADER; j < bytes.length; i++, j++) out[i] = bytes[j]! ^ 0xff;
  yield { name: 'cryptff', data: out };
}
