// Path sanitising and containment (reliability rule 1 in docs/design/reliability.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import fc from 'fast-check';
import { MAX_PATH_DEPTH, PathSet, resolveInside, sanitizeComponent } from './paths.js';
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
