// The package's version, from the package.json beside dist/ (in the repository and in an installed package
// alike): what `floodgate --version` prints and what the webhooks' user-agent says.
import { readFileSync } from 'node:fs';

export const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
