/**
 * A minimal ustar writer for tests: one regular-file member (header with a valid checksum, data,
 * padding to 512 bytes), and whole archives of such members with the two closing zero blocks.
 */

/** One ustar member: its 512-byte header, the data and the padding to a block. */
export function ustarMember(name: string, data: Uint8Array): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'latin1');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(data.length.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  h.write('14712345670\0', 136, 'latin1');
  h.write('0', 156, 'latin1');
  h.write('ustar\x0000', 257, 'latin1');
  h.write('        ', 148, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** A ustar archive of the given members, closed by two zero blocks. */
export function ustar(members: readonly { name: string; data: Uint8Array }[]): Buffer {
  return Buffer.concat([...members.map((m) => ustarMember(m.name, m.data)), Buffer.alloc(1024)]);
}
