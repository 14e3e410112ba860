// How long an uploaded WAV is, from its header alone (the first 64 KiB of the file): the byte rate of
// its 'fmt ' chunk and the size of its 'data' chunk. A transcription of a WAV is reserved and billed at
// exactly that; other formats need the backend's word (or an estimate).
import { open } from 'node:fs/promises';

const HEAD_BYTES = 64 * 1024;

/** The audio's length in milliseconds (rounded up), or undefined when the file is not a PCM WAV we can read. */
export function wavDurationFromHead(head: Buffer, fileSize: number): number | undefined {
  if (head.length < 12 || head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') return undefined;
  let byteRate = 0;
  for (let at = 12; at + 8 <= head.length; ) {
    const id = head.toString('latin1', at, at + 4);
    const size = head.readUInt32LE(at + 4);
    if (id === 'fmt ' && size >= 12 && at + 20 <= head.length) byteRate = head.readUInt32LE(at + 16);
    if (id === 'data') {
      // A streamed WAV may leave the size unset (0 or 0xFFFFFFFF): the rest of the file is the data.
      const dataBytes = size === 0 || size === 0xffffffff ? fileSize - at - 8 : Math.min(size, fileSize - at - 8);
      return byteRate > 0 ? Math.ceil((Math.max(0, dataBytes) / byteRate) * 1000) : undefined;
    }
    at += 8 + size + (size % 2);
  }
  return undefined;
}

/** The same for a file on disk. */
export async function wavDurationMs(path: string): Promise<number | undefined> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(Math.min(HEAD_BYTES, size));
    await file.read(head, 0, head.length, 0);
    return wavDurationFromHead(head, size);
  } finally {
    await file.close();
  }
}
