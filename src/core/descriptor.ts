/**
 * Reading the file behind an open descriptor from its first byte, with positioned reads so that
 * the descriptor's own offset is left alone (a descriptor passed by another process, clamd's
 * FILDES). In: the descriptor and its size from fstat. Out: the bytes, fewer if the file shrank.
 */
import { read as readCb } from 'node:fs';
import { promisify } from 'node:util';

const readAsync = promisify(readCb);

export async function readDescriptor(fd: number, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  let at = 0;
  while (at < size) {
    const { bytesRead } = await readAsync(fd, out, at, size - at, at);
    if (bytesRead === 0) break;
    at += bytesRead;
  }
  return at === size ? out : out.slice(0, at);
}
