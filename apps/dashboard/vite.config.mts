import react from '@vitejs/plugin-react';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

const root = import.meta.dirname;

export default defineConfig({
  root,
  plugins: [react()],
  build: {
    outDir: join(root, '../../dist/apps/dashboard'),
    emptyOutDir: true,
    // The gateway's CSP allows scripts from 'self' only: never inline a chunk into index.html.
    assetsInlineLimit: 0,
  },
  test: {
    root,
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
    restoreMocks: true,
  },
});
