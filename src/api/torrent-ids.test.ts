/**
 * Torrent ids are the API's (issue 10, item 1): never given twice (a released id is not given again), a wanted id
 * only when no torrent holds it, and every move of the counter reported (the daemon saves it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TorrentIds } from './torrent-ids.js';

test('ids: fresh, noted, assigned, released, never given twice', () => {
  const ids = new TorrentIds();
  const moves: number[] = [];
  ids.onNextChanged((n) => moves.push(n));
  assert.equal(ids.reserve(), 1);
  ids.note(5); // a saved counter or a restored torrent's id
  assert.equal(ids.reserve(), 6);
  ids.assign('aa', 3);
  assert.equal(ids.idOf('aa'), 3);
  assert.equal(ids.hashOf(3), 'aa');
  assert.equal(ids.reserve(3), 7, 'a wanted id held by a torrent is not given');
  assert.equal(ids.reserve(2), 2, 'a wanted id no torrent holds is given');
  ids.release('aa');
  assert.equal(ids.idOf('aa'), undefined);
  assert.equal(ids.hashOf(3), undefined);
  assert.equal(ids.reserve(), 8, 'a released id is not given again by the counter');
  assert.equal(ids.reserve(0), 9, 'an invalid wanted id: the next one');
  assert.deepEqual(moves, [2, 6, 7, 8, 9, 10]);
  ids.onNextChanged(undefined);
  ids.reserve();
  assert.equal(moves.length, 6);
  assert.equal(ids.nextId, 11);
});
