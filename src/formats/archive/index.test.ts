/** The archive family registers a reader for each type it opens, and the embedded types. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { family } from './index.js';

test('archive family: readers by CL_TYPE', () => {
  assert.deepEqual(Object.keys(family.containers).sort(), [
    'CL_TYPE_ALZ', 'CL_TYPE_ARJ', 'CL_TYPE_CPIO_CRC', 'CL_TYPE_CPIO_NEWC', 'CL_TYPE_CPIO_ODC', 'CL_TYPE_CPIO_OLD',
    'CL_TYPE_EGG', 'CL_TYPE_ISO9660', 'CL_TYPE_LHA_LZH', 'CL_TYPE_MSSZDD', 'CL_TYPE_XAR',
  ]);
  assert.deepEqual(Object.keys(family.embedded ?? {}).sort(), ['CL_TYPE_ARJSFX', 'CL_TYPE_EGGSFX', 'CL_TYPE_ISO9660']);
  // A reader given nothing gives nothing.
  const ctx = { limits: { maxFileSize: 1000, maxFiles: 0, maxScanSize: 0 }, options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false } };
  for (const read of Object.values(family.containers)) assert.equal([...read!(new Uint8Array(0), ctx)].length, 0);
  for (const read of Object.values(family.embedded ?? {})) assert.equal([...read!(new Uint8Array(0), 0, ctx)].length, 0);
});
