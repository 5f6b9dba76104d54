// Path sanitising and containment (reliability rule 1 in docs/design/reliability.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import fc from 'fast-check';
import { isSafeComponent, MAX_PATH_DEPTH, PathSet, resolveDuplicatePaths, resolveInside, sanitizeComponent, sanitizeElement, type NamedFile } from './paths.js';
import { isBtError } from '../util/errors.js';

const isBadPath = (e: unknown): boolean => isBtError(e, 'BAD_PATH');

test('sanitizeComponent rejects what could escape', () => {
  for (const c of ['', '.', '..', '...', '. .', '.. ', ' ', 'a/b', '/etc', 'a\\b', '\\\\server\\share', 'C:\\x', 'a\u0000b', '/']) {
    assert.throws(() => sanitizeComponent(c), isBadPath, JSON.stringify(c));
  }
});

test('sanitizeComponent neutralises control characters and drive letters, keeps the rest', () => {
  const soft: string[] = [];
  assert.equal(sanitizeComponent('a\nb\u0085', 'f', soft), 'a_b_');
  assert.equal(sanitizeComponent('c:foo', 'f', soft), 'c_foo');
  assert.equal(soft.length, 2);
  for (const ok of ['.hidden', 'a..b', 'ab:c', 'Title: Sub', 'naïve 😀', '..a', 'a.', ' a', 'CON', 'Z']) assert.equal(sanitizeComponent(ok), ok);
});

test('PathSet: duplicates and file/folder conflicts', () => {
  const s = new PathSet();
  s.add(['t', 'a', 'b'], 0, 'f0');
  s.add(['t', 'a', 'c'], 1, 'f1');
  s.add(['t', 'A', 'b'], 2, 'f2'); // case differs: distinct
  assert.throws(() => s.add(['t', 'a', 'b'], 3, 'f3'), /f3: duplicate file path "t\/a\/b" \(same as file #0\)/);
  assert.throws(() => s.add(['t', 'a'], 4, 'f4'), /is also a folder/);
  assert.throws(() => s.add(['t', 'a', 'b', 'x'], 5, 'f5'), /inside file #0/);
});

test('resolveInside joins and proves containment', () => {
  const base = path.resolve('/srv/data');
  assert.equal(resolveInside('/srv/data', ['t', 'a.txt']), path.join(base, 't', 'a.txt'));
  assert.equal(resolveInside('/srv/data/', ['x']), path.join(base, 'x'));
  assert.equal(resolveInside('/', ['x']), path.resolve('/x'));
  assert.equal(resolveInside('/srv/data/../data', ['x']), path.join(base, 'x'));
  for (const bad of [[], ['..'], ['a', '..', '..'], ['/etc/passwd'], ['a/../../b'], ['a\\..\\..\\b'], ['.'], [''], ['x\u0000'], ['a\tb']]) {
    assert.throws(() => resolveInside('/srv/data', bad), isBadPath, JSON.stringify(bad));
  }
  assert.throws(() => resolveInside('/srv/data', Array.from({ length: MAX_PATH_DEPTH + 1 }, () => 'a')), isBadPath);
});

test('property: resolveInside never yields a path outside the folder', () => {
  const base = path.resolve('/tmp/bitpeer-save');
  const piece = fc.oneof(
    fc.constantFrom('..', '.', '', '/', '\\', 'C:', '~', '\u0000', '\t', '%2e%2e', '..\\', '../', ' ', 'a'),
    fc.string({ maxLength: 6 }),
    fc.string({ unit: 'binary', maxLength: 4 }),
  );
  const component = fc.array(piece, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(''));
  fc.assert(fc.property(fc.array(component, { maxLength: 6 }), (comps) => {
    let out: string;
    try {
      out = resolveInside(base, comps);
    } catch (e) {
      assert.ok(isBadPath(e), String(e));
      return;
    }
    assert.ok(out.startsWith(base + path.sep), out);
    assert.equal(path.relative(base, out).split(path.sep)[0] === '..', false);
    // and it is exactly the components joined
    assert.equal(out, path.join(base, ...comps));
  }), { numRuns: 1500, interruptAfterTimeLimit: 2000 });
});

test('property: sanitizeComponent output is always a safe single component', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 12 }), (c) => {
    let out: string;
    try {
      out = sanitizeComponent(c);
    } catch (e) {
      assert.ok(isBadPath(e));
      return;
    }
    assert.ok(out.length > 0 && out !== '.' && out !== '..');
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[/\\\u0000-\u001f]/.test(out));
    assert.equal(resolveInside('/x', [out]), path.join('/x', out));
  }), { numRuns: 3000, interruptAfterTimeLimit: 3000 });
});

test('sanitizeElement follows libtorrent: separators/NUL/bidi removed, dots dropped, controls and bad UTF-8 to "_"', () => {
  const s = (x: string | number[]): string | undefined => sanitizeElement(typeof x === 'string' ? Buffer.from(x) : Buffer.from(x));
  assert.equal(s('..'), undefined);
  assert.equal(s('.'), undefined);
  assert.equal(s('./'), undefined);
  assert.equal(s('/'), undefined);
  assert.equal(s(''), '_');
  assert.equal(s('...'), '...');
  assert.equal(s('.. '), '.. ');
  assert.equal(s('/etc/passwd'), 'etcpasswd');
  assert.equal(s('..\\..\\x'), '....x');
  assert.equal(s('a\u0000b'), 'ab');
  assert.equal(s('a\tb\u007f'), 'a_b\u007f');
  assert.equal(s('evil\u202etxt.exe'), 'eviltxt.exe');
  assert.equal(s([0x61, 0xff, 0x62]), 'a_b');
  assert.equal(s([0x61, 0xc3, 0x28, 0x62]), 'a_b'); // a bad continuation byte swallows the sequence, as libtorrent
  assert.equal(s([0xed, 0xa0, 0x80]), '_'); // a surrogate
  assert.equal(s([0xc0, 0xaf]), '_'); // overlong "/"
  assert.equal(s('C:foo'), 'C:foo');
  assert.equal(s(`${'x'.repeat(300)}.tar.gz`), `${'x'.repeat(240)}.gz`);
  assert.equal(s('y'.repeat(300)), 'y'.repeat(240));
});

test('property: sanitizeElement output is undefined or a safe component that resolveInside accepts', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
    const out = sanitizeElement(raw);
    if (out === undefined) return;
    assert.ok(isSafeComponent(out), JSON.stringify(out));
    assert.equal(resolveInside('/x', [out]), path.join('/x', out));
  }), { numRuns: 3000, interruptAfterTimeLimit: 3000 });
});

test('resolveDuplicatePaths renames as libtorrent: case-insensitive, folders first, .N before the extension', () => {
  const mk = (p: string, padding = false, length = 1): NamedFile => ({ path: p.split('/'), relPath: p, length, ...(padding ? { padding } : {}) });
  const files = [mk('t/a.txt'), mk('t/A.TXT'), mk('t/a.1.txt'), mk('t/d'), mk('t/d/x'), mk('t/.pad/5', true, 5), mk('t/.pad/5', true, 5), mk('t/noext'), mk('t/noext')];
  const notes = resolveDuplicatePaths(files);
  assert.deepEqual(files.map((f) => f.relPath), ['t/a.txt', 't/A.1.TXT', 't/a.1.1.txt', 't/d.1', 't/d/x', 't/.pad/5', 't/.pad/5', 't/noext', 't/noext.1']);
  assert.equal(notes.length, 4);
  assert.deepEqual(files[3]!.path, ['t', 'd.1']);
});

test('resolveDuplicatePaths is linear: a 20,000-level path and 20,000 copies of one name take well under a second', () => {
  const deep = Array.from({ length: 20_000 }, () => 'a');
  const copies = Array.from({ length: 20_000 }, () => ({ path: ['t', 'x.bin'], relPath: 't/x.bin', length: 1 }));
  const t0 = Date.now();
  resolveDuplicatePaths([{ path: ['t', ...deep], relPath: ['t', ...deep].join('/'), length: 1 }, { path: ['t', ...deep.slice(1)], relPath: ['t', ...deep.slice(1)].join('/'), length: 1 }]);
  const notes = resolveDuplicatePaths(copies);
  const ms = Date.now() - t0;
  assert.equal(notes.length, 19_999);
  assert.equal(copies[19_999]!.relPath, 't/x.19999.bin');
  assert.equal(new Set(copies.map((f) => f.relPath)).size, 20_000);
  assert.ok(ms < 1500, `${ms} ms (quadratic: the old code took minutes)`);
});
