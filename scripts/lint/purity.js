// A local ESLint rule, `bitpeer/pure-imports`: a pure module (one that does no I/O, keeps no timers and never
// reaches the session layer) may import at run time only other pure modules. Which modules are pure is decided by
// where they live (PURE_FOLDERS), by name (`*-codec.ts`), and for the few pure files in mixed folders by PURE_FILES.
// Since every pure module is held to the same rule, no pure module can reach an I/O module through any chain of
// imports: the check is transitive by induction, though each file is checked alone. Type-only imports are allowed
// (they vanish at compile time). Node built-ins are checked by `no-restricted-imports` in eslint.config.js.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Folders whose every module is pure (tests included, though tests are not held to the rule). */
export const PURE_FOLDERS = ['src/util', 'src/bencode', 'src/metainfo', 'src/picker', 'src/wire/codec', 'src/wire/ext'];
/** Pure modules in folders that also hold I/O shells. */
export const PURE_FILES = ['src/tracker/swarm.ts', 'src/tracker/address.ts', 'src/tracker/types.ts', 'src/tracker/tiers.ts',
  'src/tracker/client-common.ts',
  'src/discovery/pex.ts', 'src/session/magnet-status.ts', 'src/create/hash-files.ts',
  'src/wire/mse/rc4.ts', 'src/wire/mse/dh.ts', 'src/wire/mse/handshake.ts',
  // The DHT's pure core (src/discovery/dht/types.ts lists it); dht-node.ts and transactions.ts keep timers.
  ...['types', 'krpc', 'node-id', 'routing-table', 'tokens', 'peer-store', 'rate-limit', 'lookup', 'dht-state', 'responder',
    'external-ip', 'host-port'].map((m) => `src/discovery/dht/${m}.ts`)];
/** ESLint `files` globs of the pure modules. */
export const PURE_GLOBS = [...PURE_FOLDERS.map((d) => `${d}/**/*.ts`), 'src/**/*-codec.ts', ...PURE_FILES];

/** Whether the repository-relative, '/'-separated `rel` is a pure module. */
export function isPure(rel) {
  if (!rel.startsWith('src/') || !rel.endsWith('.ts')) return false;
  return PURE_FOLDERS.some((d) => rel.startsWith(`${d}/`)) || rel.endsWith('-codec.ts') || PURE_FILES.includes(rel);
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'pure modules import only pure modules (docs/design/architecture.md, "Layers")' },
    schema: [],
    messages: {
      impure: '{{from}} is pure, so it may not import {{to}}, which is not (it may do I/O or reach the session); ' +
        'use `import type`, move the pure part into a pure module, or pass the dependency in',
    },
  },
  create(context) {
    const from = path.relative(root, context.filename).split(path.sep).join('/');
    if (!isPure(from)) return {};
    const check = (source) => {
      if (!source || source.type !== 'Literal' || typeof source.value !== 'string' || !source.value.startsWith('.')) return;
      const target = path.relative(root, path.resolve(path.dirname(context.filename), source.value)).split(path.sep).join('/');
      const rel = target.replace(/\.js$/, '.ts');
      if (!isPure(rel)) context.report({ node: source, messageId: 'impure', data: { from, to: rel } });
    };
    return {
      ImportDeclaration(node) {
        if (node.importKind === 'type') return;
        if (node.specifiers.length > 0 && node.specifiers.every((s) => s.type === 'ImportSpecifier' && s.importKind === 'type')) return;
        check(node.source);
      },
      ExportNamedDeclaration(node) { if (node.source && node.exportKind !== 'type') check(node.source); },
      ExportAllDeclaration(node) { if (node.exportKind !== 'type') check(node.source); },
      ImportExpression(node) { check(node.source); },
    };
  },
};

export default { rules: { 'pure-imports': rule } };
