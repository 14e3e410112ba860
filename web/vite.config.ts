// Builds the portal's front end (web/) into dist/web/, which the gateway serves under the portal path.
import { defineConfig } from 'vite';

// Paths from this file's URL (no Node types in the front end's tsconfig).
const here = (relative: string) => decodeURIComponent(new URL(relative, import.meta.url).pathname);
const root = here('.');

export default defineConfig({
  root,
  // Absolute asset URLs: index.html is served at every page route (/models/x, /console/signin…).
  base: '/',
  publicDir: false,
  // Preact's automatic JSX runtime through Vite's own transform (no Preact plugin needed).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  resolve: { alias: { react: 'preact/compat', 'react-dom': 'preact/compat' } },
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2020',
  },
});
