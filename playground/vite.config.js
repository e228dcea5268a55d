import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Served by Folio at /playground, from the files in dist/ that the binary
// embeds: nothing is fetched from a CDN at run time.
export default defineConfig({
  base: '/playground/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Monaco is large; one warning per build about it says nothing new.
    chunkSizeWarningLimit: 8000,
  },
});
