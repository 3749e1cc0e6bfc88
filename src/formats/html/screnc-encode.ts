/**
 * A JScript.Encode / VBScript.Encode encoder, the inverse of the decoder in `htmlnorm.ts`.
 *
 * In: script text (printable ASCII, tab, CR, LF). Out: `#@~^LLLLLL==…CCCCCC==^#~@`, the block the
 * Windows Script Encoder writes. Why: tests and differential samples need encoded scripts and no
 * encoder is installed on Linux.
 */
import { SCRENC_ORDER, SCRENC_TABLES } from './htmlnorm.js';

const ESCAPES: Readonly<Record<number, string>> = { 0x3c: '@!', 0x0d: '@#', 0x40: '@$', 0x0a: '@&', 0x3e: '@*' };

const b64le = (n: number): string => Buffer.from([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]).toString('base64');

export function screncEncode(script: string): string {
  let body = '';
  let sum = 0;
  let pos = 0;
  for (let i = 0; i < script.length; i++) {
    const d = script.charCodeAt(i);
    const esc = ESCAPES[d];
    if (esc) {
      body += esc;
    } else {
      const table = SCRENC_TABLES[SCRENC_ORDER[pos]!]!;
      let e = -1;
      for (let c = 0x20; c < 0x80 && e < 0; c++) if (table[c] === d) e = c;
      if (e < 0 && table[9] === d) e = 9;
      if (e < 0) throw new Error(`cannot encode ${d}`);
      body += String.fromCharCode(e);
    }
    sum += d;
    pos = (pos + 1) % 64;
  }
  return `#@~^${b64le(body.length)}${body}${b64le(sum)}^#~@`;
}
