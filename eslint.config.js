// Lint: typescript-eslint's recommended rules plus the layer rule of ARCHITECTURE.md:
// core <- formats <- signatures <- engine <- shells, and no shell imports another shell.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const shells = ['scan', 'daemon', 'protect', 'update', 'ransom', 'cli', 'web'];
const layerRule = (from, forbidden) => ({
  files: [`src/${from}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbidden.map((layer) => ({
        group: [`**/${layer}/*`, `**/${layer}`],
        message: `src/${from} may not import src/${layer} (layer rule, see ARCHITECTURE.md)`,
      })),
    }],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bin/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  layerRule('core', ['formats', 'signatures', 'engine', ...shells]),
  layerRule('formats', ['signatures', 'engine', ...shells]),
  layerRule('signatures', ['engine', ...shells]),
  layerRule('engine', shells),
  // cli is the one shell allowed to reach the others: it is the command front door.
  ...shells.filter((s) => s !== 'cli').map((s) => layerRule(s, shells.filter((o) => o !== s && o !== 'cli').concat(['cli']))),
);
