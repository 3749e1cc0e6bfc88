/**
 * RTF → the objects embedded with `\object … \objdata`, as ClamAV's RTF scanner extracts them.
 *
 * In: the bytes of a CL_TYPE_RTF layer. Out: one child per object: the OLE1 header skipped (the
 * 8-byte version/format, the class name, 8 bytes of topic and item names, the data size), then
 * the data: an OLE2 file as it is, anything else read as OLE1 native data (the Package's file).
 *
 * Why a state machine like ClamAV's: ClamAV tracks groups, control words and hex digits itself
 * and has its own quirks, which decide what gets scanned: `\objdata` counts only when followed by
 * a space and after `\object` in the same or an enclosing group; hex digits are paired across
 * anything else; the file is read in 8 KiB windows and a run of text ends at a window's end,
 * where a short run (fewer than 8 bytes where the topic/item names are) is dropped; a class name
 * longer than 64 bytes never ends; an object whose group closes early is scanned as far as it
 * got. Never throws.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { ole10Contents } from './ole10.js';

const WINDOW = 8192;

const enum P { Main, Control, Word, Symbol, Param, Interpret }
const enum O { Magic, DescLen, Desc, Zero, DataSize, Dump, Discard }

const OBJECT_BIT = 1 << 0;
const INT64_MAX = (1n << 63n) - 1n;

interface ObjectData {
  partial: number;
  hasPartial: boolean;
  state: O;
  descLen: number;
  bread: number;
  /** The temporary file's bytes once ClamAV created it (at the data size), and their length. */
  file: Uint8Array[] | undefined;
  fileLength: number;
}

interface State {
  /** `\objdata` seen after `\object`: text is object data. */
  objdata: boolean;
  data: ObjectData | undefined;
  defaultElements: number;
  parse: P;
  topLevel: number;
  word: string;
  param: bigint;
}

const base = (): State => ({ objdata: false, data: undefined, defaultElements: 0, parse: P.Main, topLevel: 0, word: '', param: 0n });
const isDefault = (s: State): boolean => s.parse === P.Main && s.topLevel === 0 && !s.objdata && s.data === undefined;

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) { HEX[0x41 + c] = 10 + c; HEX[0x61 + c] = 10 + c; }
const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

export function* rtfLayers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const found: UnpackItem[] = [];
  let objects = 0;
  const maxObject = ctx.limits.maxFileSize;

  const scanObject = (d: ObjectData): void => {
    const file = d.file;
    if (!file) return;
    d.file = undefined;
    const name = `rtf-object-${objects++}`;
    const kept = file.reduce((sum, part) => sum + part.length, 0);
    if (kept !== d.fileLength) { found.push({ name, limit: 'MaxFileSize', size: d.fileLength }); return; }
    const data = Buffer.concat(file, kept);
    if (d.bread === 1) {
      const inner = ole10Contents(data);
      if (inner) found.push(inner.length > maxObject ? { name, limit: 'MaxFileSize', size: inner.length } : { name, data: inner });
    } else if (data.length > 0) {
      found.push(data.length > maxObject ? { name, limit: 'MaxFileSize', size: data.length } : { name, data });
    }
  };

  const end = (s: State): void => {
    if (!s.data) return;
    scanObject(s.data);
    s.data = undefined;
  };

  const out = new Uint8Array(WINDOW);
  const feed = (d: ObjectData, from: number, to: number): void => {
    let cnt = 0;
    let i = from;
    if (d.hasPartial) {
      while (i < to && HEX[bytes[i]!]! < 0) i++;
      if (i >= to) return;
      out[cnt++] = d.partial | HEX[bytes[i++]!]!;
      d.hasPartial = false;
    }
    for (; i < to; i++) {
      if (HEX[bytes[i]!]! >= 0) {
        const hi = HEX[bytes[i++]!]! << 4;
        while (i < to && HEX[bytes[i]!]! < 0) i++;
        if (i === to) { d.partial = hi; d.hasPartial = true; break; }
        out[cnt++] = hi | HEX[bytes[i]!]!;
      }
    }
    let od = 0;
    while (cnt > 0) {
      switch (d.state) {
        case O.Magic: {
          let k = 0;
          for (; k < cnt && d.bread < 8; k++, d.bread++);
          cnt -= k;
          if (d.bread === 8) { od += k; d.bread = 0; d.state = O.DescLen; }
          break;
        }
        case O.DescLen:
        case O.DataSize: {
          if (d.bread === 0) d.descLen = 0;
          let k = 0;
          for (; k < cnt && d.bread < 4; k++, d.bread++) d.descLen = (d.descLen + out[od + k]! * 2 ** (d.bread * 8)) >>> 0;
          cnt -= k;
          if (d.bread === 4) {
            od += k;
            d.bread = 0;
            if (d.state === O.DescLen) d.state = O.Desc;
            else { d.file = []; d.fileLength = 0; d.state = O.Dump; }
          }
          break;
        }
        case O.Desc: {
          let k = 0;
          for (; k < cnt && d.bread < d.descLen && d.bread < 64; k++, d.bread++);
          cnt -= k;
          od += k;
          if (d.bread < d.descLen && d.bread < 64) return;
          if (d.descLen - d.bread > cnt) { d.descLen -= cnt; return; }
          cnt -= d.descLen - d.bread;
          if (d.bread >= d.descLen) { d.bread = 0; d.state = O.Zero; }
          break;
        }
        case O.Zero:
          if (cnt < 8) { cnt = 0; break; }
          cnt -= 8;
          od += 8;
          d.state = O.DataSize;
          break;
        case O.Dump: {
          const want = Math.min(cnt, d.descLen);
          const file = d.file!;
          if (!d.bread) {
            if (out[od] !== 0xd0 || out[od + 1] !== 0xcf) {
              d.bread = 1;
              const n = d.descLen;
              file.push(Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24));
              d.fileLength += 4;
            } else d.bread = 2;
          }
          d.descLen -= want;
          // Past the scan limit the object is reported as limited; its bytes need not be kept.
          if (d.fileLength + want <= maxObject + 8) file.push(out.slice(od, od + want));
          d.fileLength += want;
          od += want;
          cnt -= want;
          if (d.descLen === 0) {
            scanObject(d);
            d.bread = 0;
            d.state = O.Magic;
          }
          break;
        }
        default:
          cnt = 0;
      }
    }
  };

  let state = base();
  const stack: State[] = [];
  const push = (): void => {
    if (isDefault(state)) { state.defaultElements++; return; }
    stack.push(state);
    const top = state.topLevel;
    state = base();
    state.topLevel = top;
  };
  const pop = (): void => {
    if (state.defaultElements) {
      const left = state.defaultElements - 1, top = state.topLevel;
      state = base();
      state.defaultElements = left;
      state.topLevel = top;
      return;
    }
    state = stack.pop() ?? base();
  };

  let ptr = 0;
  const n = bytes.length;
  while (ptr < n) {
    const windowEnd = Math.min(n, (Math.floor(ptr / WINDOW) + 1) * WINDOW);
    const c = bytes[ptr]!;
    switch (state.parse) {
      case P.Main:
        ptr++;
        if (c === 0x7b) push();
        else if (c === 0x7d) { end(state); pop(); }
        else if (c === 0x5c) state.parse = P.Control;
        else {
          const from = ptr - 1;
          let to = windowEnd;
          for (let k = ptr; k < windowEnd; k++) {
            const x = bytes[k]!;
            if (x === 0x7b || x === 0x7d || x === 0x5c) { to = k; break; }
          }
          if (state.objdata) {
            state.data ??= { partial: 0, hasPartial: false, state: O.Magic, descLen: 0, bread: 0, file: undefined, fileLength: 0 };
            feed(state.data, from, to);
          }
          ptr = to;
        }
        break;
      case P.Control:
        if (isAlpha(c)) { state.parse = P.Word; state.word = ''; } else state.parse = P.Symbol;
        break;
      case P.Symbol:
        ptr++;
        state.parse = P.Main;
        break;
      case P.Word:
        if (state.word.length === 32) state.parse = P.Main;
        else if (isAlpha(c)) { state.word += String.fromCharCode(c); ptr++; }
        else if (isSpace(c)) { state.word += String.fromCharCode(c); ptr++; state.parse = P.Interpret; }
        else if (isDigit(c)) { state.parse = P.Param; state.param = 0n; }
        else if (c === 0x2d) { ptr++; state.parse = P.Param; state.param = 0n; }
        else state.parse = P.Interpret;
        break;
      case P.Param:
        if (isDigit(c)) {
          const next = state.param * 10n + BigInt(c - 0x30);
          if (next > INT64_MAX) state.parse = P.Main;
          else { state.param = next; ptr++; }
        } else if (isAlpha(c)) ptr++;
        else state.parse = P.Interpret;
        break;
      case P.Interpret: {
        const word = state.word.toLowerCase();
        if (word === 'object' || word === 'objdata ') {
          if (state.data) { end(state); state.objdata = false; }
          if (word === 'object') state.topLevel |= OBJECT_BIT;
          else if (state.topLevel & OBJECT_BIT) state.objdata = true;
        }
        state.parse = P.Main;
        break;
      }
    }
    if (found.length > 0) { yield* found; found.length = 0; }
  }
  end(state);
  while (stack.length > 0) {
    pop();
    end(state);
  }
  yield* found;
}
