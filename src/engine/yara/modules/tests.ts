/**
 * YARA's `tests` module, the fixture yara's own test suite uses to exercise structures, arrays,
 * dictionaries and overloads, with the same fixed data: `tests.constants` (1, 2, "foo", ""),
 * `tests.integer_array` (0, 1, 2 and 256 at index 256, the gap UNDEFINED), `tests.string_array`
 * ("foo", "bar", "baz", "foo\0bar"), `tests.string_dict` (foo → "foo", bar → "bar"),
 * `tests.struct_array[1].i` = 1, `tests.struct_dict["foo"]` = { i: 1, s: "foo" }, and the
 * `undefined` structure and the empty containers left UNDEFINED.
 *
 * In: function arguments. Out: `isum`/`fsum` (sums), `length` (bytes up to the first NUL, as C's
 * strlen), `empty()` (""), `foobar(1)` "foo", `foobar(2)` "bar", otherwise "oops";
 * `match(/re/, s)` answers 1 when the regexp matches `s` and -1 otherwise (yara returns the
 * length of the match; no rule in the wild depends on it). `module_data` (yara's `-x
 * tests=FILE`) is UNDEFINED: vigil has no such option.
 */
import { catalogDeclarations } from './declare.js';
import { bytesOf, type YaraModule, type YaraRegexp } from './types.js';

const wrap = (v: bigint): bigint => BigInt.asIntN(64, v);

export const testsModule: YaraModule = {
  name: 'tests',
  since: '3.0',
  declarations: catalogDeclarations('tests', {
    'isum(ii)': (_c, a) => wrap((a[0] as bigint) + (a[1] as bigint)),
    'isum(iii)': (_c, a) => wrap((a[0] as bigint) + (a[1] as bigint) + (a[2] as bigint)),
    'fsum(ff)': (_c, a) => (a[0] as number) + (a[1] as number),
    'fsum(fff)': (_c, a) => (a[0] as number) + (a[1] as number) + (a[2] as number),
    'length(s)': (_c, a) => {
      const s = a[0] as Uint8Array;
      const nul = s.indexOf(0);
      return BigInt(nul < 0 ? s.length : nul);
    },
    'empty()': () => new Uint8Array(0),
    'foobar(i)': (_c, a) => bytesOf(a[0] === 1n ? 'foo' : a[0] === 2n ? 'bar' : 'oops'),
    'match(rs)': (_c, a) => ((a[0] as YaraRegexp).test(a[1] as Uint8Array) ? 1n : -1n),
  }),
  load: () => {
    const integerArray: (bigint | undefined)[] = [0n, 1n, 2n];
    integerArray[256] = 256n;
    return {
      constants: { one: 1n, two: 2n, foo: bytesOf('foo'), empty: new Uint8Array(0) },
      integer_array: Array.from(integerArray),
      string_array: [bytesOf('foo'), bytesOf('bar'), bytesOf('baz'), Uint8Array.of(0x66, 0x6f, 0x6f, 0, 0x62, 0x61, 0x72)],
      string_dict: new Map([['foo', bytesOf('foo')], ['bar', bytesOf('bar')]]),
      struct_array: [undefined, { i: 1n }],
      struct_dict: new Map([['foo', { i: 1n, s: bytesOf('foo') }]]),
    };
  },
};
