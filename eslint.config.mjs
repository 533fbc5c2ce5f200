// Type-checked lint for TypeScript (a forgotten `await` on a Redis write is a lost message), plain
// recommended rules for the JavaScript launchers. Next 16 has no `next lint`: run `eslint .`.
import fs from 'node:fs';
import path from 'node:path';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Node's globals, read from the Node running ESLint (saves a dependency on the `globals` package).
const nodeGlobals = Object.fromEntries(
  Object.getOwnPropertyNames(globalThis).map((name) => [name, /** @type {const} */ ('readonly')]),
);

/**
 * Files the browser runs: src/client, src/components, and any other module that starts with
 * 'use client' (found by reading src/, so a new client entry point is covered without editing this).
 */
const useClientFiles = fs
  .readdirSync(path.join(import.meta.dirname, 'src'), { recursive: true, encoding: 'utf8' })
  .filter((file) => /\.tsx?$/.test(file) && !/^(client|components)[/\\]/.test(file))
  .filter((file) => /^\s*['"]use client['"]/.test(fs.readFileSync(path.join(import.meta.dirname, 'src', file), 'utf8')))
  .map((file) => `src/${file.split(path.sep).join('/')}`);

/**
 * Imports of the folder src/<name>: `~/<name>/...`, or relative ones that climb up to it
 * (`../../<name>/...`). Same-folder relative imports (`./client` in src/server/redis) are not it.
 */
const folder = (/** @type {string} */ name) => ({ regex: `^(~/${name}|(\\.\\./)+${name})(/|$)` });

export default defineConfig(
  globalIgnores([
    'node_modules/',
    '.next/',
    '.data/',
    'next-env.d.ts',
    'playwright-report/',
    'test-results/',
    'coverage/',
    'out/',
  ]),

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.{ts,tsx,mts,cts}'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
    },
  },

  // Import boundaries (see README "Tour"). Browser code never pulls in server modules (secrets, Redis,
  // Node built-ins): only their types, e.g. `import type { AppRouter }`, which vanish at build time.
  // Server code never imports browser code; what both sides need (schemas, DTO types, the QueryClient
  // factory, event ids) lives in src/shared, which imports neither.
  {
    files: ['src/client/**/*.{ts,tsx}', 'src/components/**/*.{ts,tsx}', ...useClientFiles],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              ...folder('server'),
              allowTypeImports: true,
              message: 'Browser code may import only types from src/server; move shared values to src/shared.',
            },
            { group: ['server-only'], message: 'Browser code cannot import server-only.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/server/**/*.{ts,tsx}'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { ...folder('client'), message: 'Server code must not import browser code; move what both need to src/shared.' },
            { ...folder('components'), message: 'Server code must not import components.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/shared/**/*.{ts,tsx}'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              ...folder('(server|client|components)'),
              message: 'src/shared is imported by both sides and imports neither.',
            },
          ],
        },
      ],
    },
  },

  // JavaScript (launchers, this file): no type information, Node globals.
  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: nodeGlobals },
  },
);
