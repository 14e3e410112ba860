// The portal's pages (SPEC §14): the front end built into dist/web/ by `npm run build`, served with
// @fastify/static — hashed assets cached for good, index.html revalidated, and index.html for every page
// route (the front end routes itself). Before the front end is built, pages say so instead.
import { readFile, stat } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { Config } from '../config/load.js';

/** dist/web at the repository's root: two levels up from src/portal/ and from dist/portal/ alike. */
export const DEFAULT_WEB_ROOT = join(import.meta.dirname, '..', '..', 'dist', 'web');

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Files Vite copies as they are (favicon, robots.txt): not hashed, so cached for a while only. */
const PLAIN_FILE_CACHE = 'public, max-age=3600';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function notBuiltPage(title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>${escapeHtml(title)}</h1>
<p>The portal's pages are not built on this server. Run <code>npm run build</code> (it builds <code>web/</code> into <code>dist/web/</code>) and reload. The API and its JSON endpoints work meanwhile.</p>
</body></html>
`;
}

export interface PortalPages {
  /** Answers the request with a page or a plain file when it is one; false leaves it to the JSON 404. */
  serve(request: FastifyRequest, reply: FastifyReply): Promise<boolean>;
}

/** Registers the assets route and returns the page fallback for the app's not-found handler. */
export function registerPortalPages(app: FastifyInstance, config: Config, webRoot = DEFAULT_WEB_ROOT): PortalPages {
  const { path, apiPrefix, title } = config.portal;
  void app.register(fastifyStatic, {
    root: join(webRoot, 'assets'),
    prefix: `${path}assets/`,
    decorateReply: true,
    index: false,
    list: false,
    dotfiles: 'deny',
    cacheControl: false,
    setHeaders: (res) => {
      res.setHeader('cache-control', IMMUTABLE);
    },
  });

  /** Gateway routes and the JSON API are never pages. */
  const notPages = [apiPrefix, config.server.basePath, '/admin/v1', '/healthz', config.metrics.path, `${path}assets`].filter((p) => p !== '');
  const outside = (url: string) => notPages.some((p) => url === p || url.startsWith(`${p}/`));

  async function fileIn(relative: string): Promise<string | undefined> {
    const file = normalize(join(webRoot, relative));
    if (!file.startsWith(webRoot + sep) || relative.split('/').some((s) => s.startsWith('.'))) return undefined;
    try {
      return (await stat(file)).isFile() ? file : undefined;
    } catch {
      return undefined;
    }
  }

  async function indexHtml(): Promise<string | undefined> {
    let html: string;
    try {
      html = await readFile(join(webRoot, 'index.html'), 'utf8');
    } catch {
      return undefined;
    }
    // Built with base '/': under another path the assets are asked for there (docs/portal-contract.md).
    return path === '/' ? html : html.replaceAll('"/assets/', `"${path}assets/`);
  }

  return {
    async serve(request, reply) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return false;
      let url: string;
      try {
        url = decodeURIComponent(request.url.split('?')[0]);
      } catch {
        return false;
      }
      const under = url === path.slice(0, -1) || url.startsWith(path);
      if (!under || outside(url)) return false;
      const relative = url.slice(path.length);
      if (relative !== '' && relative !== 'index.html' && !relative.endsWith('/')) {
        const file = await fileIn(relative);
        if (file !== undefined) {
          reply.header('cache-control', PLAIN_FILE_CACHE);
          await reply.sendFile(relative, webRoot, { cacheControl: false });
          return true;
        }
      }
      if (!(request.headers.accept ?? '').includes('text/html')) return false;
      const html = await indexHtml();
      void reply
        .code(200)
        .header('cache-control', 'no-cache')
        .type('text/html; charset=utf-8')
        .send(html ?? notBuiltPage(title));
      return true;
    },
  };
}
