/**
 * Module data as `yara -D` prints it (`yr_object_print_data`): the module's name, then each member
 * that is not a function on its own line, indented by tabs; integers in decimal, floats with six
 * decimals, strings quoted with non-printable bytes as `\xNN`, members without a value as
 * `YR_UNDEFINED`; array items as `[i]` and dictionary items by key, only those that exist. yara
 * keeps a structure's members in a list it prepends to, so a structure declared by the module
 * prints its members last declared first, and every copy reverses the list again: the items of
 * an array or dictionary are copies of its prototype, and an array inside an item was itself
 * copied with the item, so members print in declaration order at odd depths of nesting.
 *
 * In: the module's declarations in the catalog of the YARA version whose output is wanted (yara
 * 4.2.3 for `vigil yara`) and the data the module's `load` gave for one file. Out: the text,
 * without the final newline (the caller prints one).
 */
import type { ModuleType } from '../../../signatures/yara/modules-catalog.js';
import type { ModuleData } from './types.js';

function isRecord(d: ModuleData): d is Readonly<Record<string, ModuleData>> {
  return !!d && typeof d === 'object' && !(d instanceof Uint8Array) && !(d instanceof Map) && !Array.isArray(d);
}

function value(type: 'integer' | 'float' | 'string', d: ModuleData): string {
  // A float never set holds NaN, which yara prints with printf's %f.
  if (type === 'float') {
    const f = typeof d === 'number' ? d : NaN;
    return ` = ${Number.isNaN(f) ? 'nan' : f === Infinity ? 'inf' : f === -Infinity ? '-inf' : f.toFixed(6)}`;
  }
  if (d === undefined) return ' = YR_UNDEFINED';
  switch (type) {
    case 'string': {
      if (!(d instanceof Uint8Array)) return ' = YR_UNDEFINED';
      let s = '';
      for (const c of d) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
      return ` = "${s}"`;
    }
    default:
      if (typeof d === 'bigint') return ` = ${d}`;
      if (typeof d === 'boolean') return ` = ${d ? 1 : 0}`;
      if (typeof d === 'number') return ` = ${Math.trunc(d)}`;
      return ' = YR_UNDEFINED';
  }
}

function print(t: ModuleType, d: ModuleData, indent: number, out: string[], nesting: number): void {
  const tabs = '\t'.repeat(Math.min(indent, 31));
  switch (t.kind) {
    case 'value':
      out.push(value(t.type, d));
      return;
    case 'struct': {
      const fields = Object.entries(t.fields);
      for (const [name, member] of nesting % 2 === 1 ? fields : fields.reverse()) {
        if (member.kind === 'function') continue;
        out.push(`\n${'\t'.repeat(Math.min(indent + 1, 31))}${name}`);
        print(member, isRecord(d) ? d[name] : undefined, indent + 1, out, nesting);
      }
      return;
    }
    case 'array':
      if (!Array.isArray(d)) return;
      d.forEach((item: ModuleData, i: number) => {
        if (item === undefined) return;
        out.push(`\n${tabs}\t[${i}]`);
        print(t.of, item, indent + 1, out, nesting + 1);
      });
      return;
    case 'dict':
      if (!(d instanceof Map)) return;
      for (const [key, item] of d) {
        out.push(`\n${tabs}\t${key}`);
        print(t.of, item, indent + 1, out, nesting + 1);
      }
      return;
    default:
      return;
  }
}

/** `-D`'s text for module `name`, whose catalog entry is `root`, with one file's data. */
export function printModuleData(name: string, root: ModuleType, data: ModuleData): string {
  const out: string[] = [name];
  print(root, data, 0, out, 0);
  return out.join('');
}
