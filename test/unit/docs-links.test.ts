// No broken internal link in the README or docs/: every relative link points at a file or folder that
// exists, and every `#anchor` into a markdown file matches a heading there (GitHub's anchors).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/gateway.js';

const PAGES = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The text outside fenced code blocks, line by line (a link in an example is not a link). */
function proseLines(text: string): string[] {
  const out: string[] = [];
  let fence: string | null = null;
  for (const line of text.split('\n')) {
    const open = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence === null && open) fence = open[1][0];
    else if (fence !== null && open && open[1][0] === fence) fence = null;
    else if (fence === null) out.push(line);
  }
  return out;
}

/** GitHub's anchor for a heading: markup dropped, lowercase, spaces to `-`, punctuation but `-` and `_` dropped. */
export function slug(heading: string): string {
  // Code spans keep their text (`<name>` in one is text); outside them, links keep theirs and tags go.
  const text = heading
    .split(/(`+[^`]*?`+)/)
    .map((part, i) => (i % 2 === 1 ? part.replace(/^`+|`+$/g, '') : part.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '')))
    .join('')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '').replace(/\s/g, '-');
}

/** Every anchor a markdown file has: its headings' slugs (repeats get -1, -2 …) and explicit ids. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = slug(heading[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]);
  }
  return anchors;
}

/** The link targets of a page: inline links and images, and reference definitions; inline code skipped. */
function linksOf(text: string): string[] {
  const out: string[] = [];
  for (const line of proseLines(text)) {
    const prose = line.replace(/(`+)[^`]*?\1/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1]);
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(prose);
    if (def) out.push(def[1]);
  }
  return out;
}

/** What is wrong with each relative link of a page, as `page: target (why)`. */
function brokenLinks(page: string): string[] {
  const problems: string[] = [];
  const text = readFileSync(join(REPO_ROOT, page), 'utf8');
  for (const target of linksOf(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const [rawPath, anchor] = target.split('#', 2) as [string, string | undefined];
    const path = decodeURIComponent(rawPath.split('?')[0]);
    const file = path === '' ? join(REPO_ROOT, page) : path.startsWith('/') ? join(REPO_ROOT, path) : resolve(REPO_ROOT, dirname(page), path);
    if (!existsSync(file)) {
      problems.push(`${page}: ${target} (no file ${relative(REPO_ROOT, file)})`);
      continue;
    }
    if (anchor !== undefined && anchor !== '' && file.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(decodeURIComponent(anchor))) {
      problems.push(`${page}: ${target} (no heading #${anchor} in ${relative(REPO_ROOT, file)})`);
    }
  }
  return problems;
}

describe('links in the README and docs/', () => {
  it('reads the links and anchors the way GitHub does', () => {
    expect(slug('Scale-out: many instances')).toBe('scale-out-many-instances');
    expect(slug('`providers.<name>.base_url` (openai)')).toBe('providersnamebase_url-openai');
    expect(slug('Two more doors: the Responses API and the Messages API')).toBe('two-more-doors-the-responses-api-and-the-messages-api');
    expect([...anchorsOf('# A\n## Notes\n```\n# not a heading\n```\n## Notes\n')]).toEqual(['a', 'notes', 'notes-1']);
    expect(linksOf('See [a](docs/a.md#x), ![b](img.png "t") and `[c](not-a-link)`.\n[d]: ../e.md\n```\n[f](g)\n```')).toEqual(['docs/a.md#x', 'img.png', '../e.md']);
  });

  it('covers the README and every page in docs/', () => {
    expect(PAGES).toContain('README.md');
    expect(PAGES).toContain('docs/configuration.md');
    expect(PAGES).toContain('docs/errors.md');
  });

  it.each(PAGES)('%s: every relative link and anchor resolves', (page) => {
    expect(brokenLinks(page)).toEqual([]);
  });
});
