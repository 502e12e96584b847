// Builds the dashboard (dashboard/src) into dist/dashboard, served by the control plane under /ui/.
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'dashboard',
  base: '/ui/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: '../dist/dashboard',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 600,
  },
});
