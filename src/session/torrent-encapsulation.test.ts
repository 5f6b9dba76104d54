/**
 * A guard (issue 10, item 1): `class Torrent` keeps its state private. Read from src/session/torrent.ts with the
 * TypeScript parser: no public field that is not readonly, no public setter, and none of the internals other modules
 * once reached into (the picker, the peer manager, the announcer, the tracker log, storage, rate meters, buckets)
 * is public, even readonly. Readers use `status()` and the readonly getters; writers use the commands. `class
 * Session` has no public mutable field either: its queue limits and piece listeners are commands (setQueueLimits,
 * onPieceVerified), its services a getter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../../', import.meta.url)); // dist/src/session/ → the repository
const INTERNALS = ['picker', 'peers', 'announcer', 'trackerLog', 'storage', 'hasher', 'down', 'up', 'uploadBucket', 'downloadBucket',
  'requests', 'uploads', 'choker', 'extensions', 'peerTotals'];

interface Member { name: string; kind: 'field' | 'setter' | 'getter'; readonly: boolean }

function publicMembers(file: string, className: string): Member[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: Member[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isClassDeclaration(node) && node.name?.text === className) {
      for (const m of node.members) {
        const mods = ts.canHaveModifiers(m) ? ts.getModifiers(m) ?? [] : [];
        const hidden = mods.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword)
          || (m.name !== undefined && ts.isPrivateIdentifier(m.name));
        if (hidden || !m.name) continue;
        const name = m.name.getText(src);
        const readonly = mods.some((x) => x.kind === ts.SyntaxKind.ReadonlyKeyword);
        if (ts.isPropertyDeclaration(m)) out.push({ name, kind: 'field', readonly });
        else if (ts.isSetAccessorDeclaration(m)) out.push({ name, kind: 'setter', readonly: false });
        else if (ts.isGetAccessorDeclaration(m)) out.push({ name, kind: 'getter', readonly: true });
      }
      // Constructor parameter properties (`constructor(public x)`) are fields too.
      for (const m of node.members) {
        if (!ts.isConstructorDeclaration(m)) continue;
        for (const p of m.parameters) {
          const mods = ts.getModifiers(p) ?? [];
          if (mods.some((x) => x.kind === ts.SyntaxKind.PublicKeyword)) {
            out.push({ name: p.name.getText(src), kind: 'field', readonly: mods.some((x) => x.kind === ts.SyntaxKind.ReadonlyKeyword) });
          }
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return out;
}

test('class Torrent has no public mutable field, no public setter and no public internals', () => {
  const members = publicMembers(`${root}src/session/torrent.ts`, 'Torrent');
  assert.ok(members.some((m) => m.name === 'meta'), 'the parser found class Torrent');
  const mutable = members.filter((m) => m.kind === 'setter' || (m.kind === 'field' && !m.readonly)).map((m) => m.name);
  assert.deepEqual(mutable, [], `public mutable members of Torrent: ${mutable.join(', ')}`);
  const exposed = members.filter((m) => INTERNALS.includes(m.name)).map((m) => m.name);
  assert.deepEqual(exposed, [], `internals exposed by Torrent: ${exposed.join(', ')}`);
  const fields = members.filter((m) => m.kind === 'field').map((m) => m.name).sort();
  assert.deepEqual(fields, ['infoHash', 'infoHashHex', 'meta', 'savePath'], 'public fields: identity only');
});

test('class Session has no public mutable field and no public setter (queue limits, piece listeners: commands)', () => {
  const members = publicMembers(`${root}src/session/session.ts`, 'Session');
  assert.ok(members.some((m) => m.name === 'torrents'), 'the parser found class Session');
  const mutable = members.filter((m) => m.kind === 'setter' || (m.kind === 'field' && !m.readonly)).map((m) => m.name);
  assert.deepEqual(mutable, [], `public mutable members of Session: ${mutable.join(', ')}`);
});
