// External address votes (BEP 42): one vote per source, a majority with at least MIN_VOTES, bounded memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExternalIpVotes, MIN_VOTES } from './external-ip.js';

test('a winner needs MIN_VOTES distinct sources and a majority', () => {
  const v = new ExternalIpVotes();
  v.vote('1.1.1.1', '203.0.113.5');
  v.vote('1.1.1.1', '203.0.113.5');
  v.vote('2.2.2.2', '203.0.113.5');
  assert.equal(v.winner, undefined, 'two sources');
  assert.equal(v.vote('3.3.3.3', '203.0.113.5'), '203.0.113.5');
  assert.equal(MIN_VOTES, 3);
  v.vote('4.4.4.4', '198.51.100.1');
  v.vote('5.5.5.5', '198.51.100.1');
  assert.equal(v.winner, '203.0.113.5', '3 of 5 votes');
  v.vote('6.6.6.6', '198.51.100.1');
  assert.equal(v.winner, undefined, '3 of 6 is no majority');
});

test('a source that changes its vote moves it; memory is bounded (oldest voter forgotten)', () => {
  const v = new ExternalIpVotes(4);
  for (const s of ['a', 'b', 'c']) v.vote(s, '203.0.113.5');
  assert.equal(v.winner, '203.0.113.5');
  v.vote('a', '198.51.100.1');
  assert.equal(v.winner, undefined);
  for (const s of ['d', 'e', 'f', 'g']) v.vote(s, '198.51.100.1');
  assert.equal(v.sources, 4);
  assert.equal(v.winner, '198.51.100.1');
});
