import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scanConfig, SCAN_CONFIG_KEYS } from './scan-config.js';

test('clamd.conf scan options map to the scanner: limits with size suffixes, switches, alerts, PUA, SelfCheck', () => {
  const c = scanConfig([
    '# comment', 'MaxFileSize 10M', 'MaxScanSize 1G', 'MaxRecursion 5', 'MaxFiles 3', 'MaxScanTime 5000',
    'ScanArchive no', 'ScanPE false', 'ScanHTML yes', 'AlertEncrypted yes', 'AlertEncryptedDoc no',
    'AlertOLE2Macros yes', 'HeuristicAlerts no', 'AlertExceedsMax true', 'DetectPUA yes', 'SelfCheck 30',
    'MaxPartitions 7', 'MaxRecHWP3 4', 'LocalSocket /tmp/x.sock', 'MaxFileSize 20M',
  ].join('\n'));
  assert.deepEqual(c.errors, []);
  assert.deepEqual(c.limits, { maxFileSize: 20 * 1024 ** 2, maxScanSize: 1024 ** 3, maxRecursion: 5, maxFiles: 3, maxScanTime: 5000 });
  assert.deepEqual(c.parse, { archive: false, pe: false, html: true });
  assert.deepEqual(c.unpack, { alertEncryptedArchive: true, alertEncryptedDoc: false, alertMacros: true, heuristicAlerts: false, maxPartitions: 7, maxRecHwp3: 4 });
  assert.equal(c.alertExceedsMax, true);
  assert.equal(c.detectPua, true);
  assert.equal(c.selfCheck, 30);
  assert.ok(SCAN_CONFIG_KEYS.has('ScanOLE2') && !SCAN_CONFIG_KEYS.has('LocalSocket'));
});

test('values clamd refuses are errors with their line', () => {
  const c = scanConfig('MaxFileSize lots\nScanPDF maybe\nSelfCheck -1\n');
  assert.deepEqual(c.errors, [
    'line 1: MaxFileSize: invalid value "lots"',
    'line 2: ScanPDF: invalid value "maybe"',
    'line 3: SelfCheck: invalid value "-1"',
  ]);
});
