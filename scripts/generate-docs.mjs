// Writes the generated reference pages (docs/configuration.md, docs/errors.md) from the built code:
// `npm run docs:generate` compiles src/ first. The pages' content is src/config/reference.ts's.
/* global console, Buffer, URL */
import { writeFileSync } from 'node:fs';
import { generatedDocs } from '../dist/config/reference.js';

const root = new URL('../', import.meta.url);
for (const [path, text] of Object.entries(generatedDocs())) {
  writeFileSync(new URL(path, root), text);
  console.log(`wrote ${path} (${Buffer.byteLength(text)} bytes)`);
}
