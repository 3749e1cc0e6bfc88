/**
 * Address checks against published vectors: BIP173/BIP350 segwit addresses (valid and the
 * invalid ones that differ only in checksum variant or padding), base58check P2PKH/P2SH examples,
 * Keccak-256 digests, a Monero address, v3 onion checksums; and extraction from text and names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bech32Decode, checkBase58Address, checkMoneroAddress, checkSegwitAddress, extractBtc, extractEmails, extractOnions, extractXmr,
  isBtcAddress, isOnionHost, keccak256,
} from './addresses.js';

const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex');

test('Keccak-256 (original padding, as Monero uses it)', () => {
  assert.equal(hex(keccak256(new Uint8Array())), 'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470');
  assert.equal(hex(keccak256(new TextEncoder().encode('abc'))), '4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45');
  // Two blocks (the rate is 136 bytes).
  assert.equal(keccak256(new Uint8Array(200)).length, 32);
  assert.notEqual(hex(keccak256(new Uint8Array(135))), hex(keccak256(new Uint8Array(136))));
});

test('base58check: P2PKH and P2SH (BIP13 form) with their checksum', () => {
  assert.deepEqual(checkBase58Address('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa'), { kind: 'p2pkh', testnet: false });
  // The P2SH example of BIP13 / the Bitcoin wiki.
  assert.deepEqual(checkBase58Address('3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy'), { kind: 'p2sh', testnet: false });
  // One character changed: the checksum fails.
  assert.equal(checkBase58Address('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb'), null);
  assert.equal(checkBase58Address('3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz'), null);
  // Wrong alphabet (0, O, I, l are not base58) and wrong lengths.
  assert.equal(checkBase58Address('1A1zP1eP5QGefi2DMPTfTL5SLmv7Div0Na'), null);
  assert.equal(checkBase58Address('1A1zP1eP5'), null);
});

test('bech32/bech32m: the BIP350 valid addresses pass, the BIP173-era v1+ ones and bad padding fail', () => {
  const valid: [string, string][] = [
    ['BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4', 'p2wpkh'],
    ['tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7', 'p2wsh'],
    ['bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y', 'segwit'],
    ['BC1SW50QGDZ25J', 'segwit'],
    ['bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs', 'segwit'],
    ['tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy', 'p2wsh'],
    ['tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c', 'p2tr'],
    ['bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0', 'p2tr'],
  ];
  for (const [a, kind] of valid) assert.equal(checkSegwitAddress(a)?.kind, kind, a);
  const invalid = [
    // v1 with a bech32 (not bech32m) checksum: valid under BIP173, invalid since BIP350.
    'bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx',
    // v0 with a bech32m checksum.
    'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh',
    // Zero padding of more than 4 bits.
    'bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du',
    // Mixed case; unknown human-readable part; a flipped character.
    'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3T4',
    'tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty',
    'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5',
  ];
  for (const a of invalid) assert.equal(checkSegwitAddress(a), null, a);
  // Generic BIP173 checksum vectors (not addresses).
  assert.equal(bech32Decode('abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw')?.encoding, 'bech32');
  assert.equal(bech32Decode('A12UEL5L')?.encoding, 'bech32');
  assert.equal(bech32Decode('li1dgmt3'), null);
});

test('Monero: standard address with its Keccak checksum; altered or truncated ones fail', () => {
  const addr = '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A';
  assert.equal(addr.length, 95);
  assert.deepEqual(checkMoneroAddress(addr), { kind: 'standard' });
  assert.equal(checkMoneroAddress(addr.slice(0, -1) + 'B'), null);
  assert.equal(checkMoneroAddress(addr.slice(0, 94)), null);
  assert.equal(checkMoneroAddress('4' + '1'.repeat(94)), null);
});

test('onions: v3 checksum and version byte; v2 by form', () => {
  assert.equal(isOnionHost('2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid'), true);
  assert.equal(isOnionHost('2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wia'), false);
  assert.equal(isOnionHost('facebookcorewwwi'), true);
  assert.equal(isOnionHost('facebookcorewww1'), false);
});

test('extraction from notes and file names', () => {
  const note = `Send 0.1 BTC to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa or bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 (not 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb).
Write to Decrypt.Help@Protonmail.com or poiskiransom@airmail.cc2 files free.
Monero: 44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A
Chat: http://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion/chat`;
  assert.deepEqual(extractBtc(note), ['1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa', 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4']);
  assert.deepEqual(extractEmails(note), ['decrypt.help@protonmail.com', 'poiskiransom@airmail.cc']);
  assert.equal(extractXmr(note).length, 1);
  assert.deepEqual(extractOnions(note), ['2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion']);
  // Dharma-style names: bracketed e-mail; glued e-mail followed by an id and an extension.
  assert.ok(extractEmails('report.docx.id-1E857D00.[paymentbtc@firemail.cc].cmb', { fileName: true }).includes('paymentbtc@firemail.cc'));
  const glued = extractEmails('photo.jpg.rescuers@india.com.3392cyan548qzeuf.lock', { fileName: true });
  assert.ok(glued.includes('rescuers@india.com'), glued.join());
  assert.ok(!glued.some((e) => e.endsWith('.lock')));
  assert.ok(isBtcAddress('3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy'));
});
