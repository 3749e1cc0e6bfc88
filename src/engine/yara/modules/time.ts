/**
 * YARA's `time` module: `time.now()`, the current time in whole seconds since the Unix epoch, as
 * an int64. The clock comes from the scan context so that tests can fix it.
 */
import { fn, type YaraModule } from './types.js';

export const timeModule: YaraModule = {
  name: 'time',
  since: '4.0',
  declarations: {
    now: fn({ args: [], returns: 'integer', impl: (ctx) => ctx.now() }),
  },
};
