// BEP 12 tiers: shuffle within tiers, fall through, promote, filtering.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TrackerTiers } from './tiers.js';

const zero = (): number => 0;

function drain(t: TrackerTiers): string[] {
  const out: string[] = [];
  for (let u = t.current(); u !== undefined; u = t.next()) out.push(u);
  return out;
}

describe('TrackerTiers', () => {
  it('shuffles within each tier but keeps the tier order', () => {
    const list = [['http://a/announce', 'http://b/announce', 'http://c/announce'], ['udp://d:1', 'udp://e:1']];
    // rng 0 makes Fisher–Yates rotate: [a,b,c] → [b,c,a]; [d,e] → [e,d].
    const t = new TrackerTiers(list, undefined, zero);
    assert.deepEqual(t.toLists(), [['http://b/announce', 'http://c/announce', 'http://a/announce'], ['udp://e:1', 'udp://d:1']]);
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 5, maxLength: 5 }), (rs) => {
      let i = 0;
      const tt = new TrackerTiers(list, undefined, () => rs[i++ % rs.length]!);
      const got = tt.toLists();
      assert.deepEqual(got.map((x) => [...x].sort()), list.map((x) => [...x].sort()));
    }), { numRuns: 100 });
  });

  it('falls through the tier, then the next tier, then ends; reset starts over', () => {
    const t = new TrackerTiers([['http://a/announce', 'http://b/announce'], ['http://c/announce']], undefined, () => 0.99);
    assert.deepEqual(drain(t), ['http://a/announce', 'http://b/announce', 'http://c/announce']);
    assert.equal(t.current(), undefined);
    assert.equal(t.next(), undefined);
    t.reset();
    assert.equal(t.current(), 'http://a/announce');
  });

  it('promotes a tracker that answered to the front of its tier', () => {
    const t = new TrackerTiers([['http://a/announce', 'http://b/announce', 'http://c/announce'], ['http://d/announce']],
      undefined, () => 0.99);
    t.next();
    t.next(); // c is current
    t.promote('http://c/announce');
    assert.equal(t.current(), 'http://c/announce', 'the cursor follows the promoted tracker');
    assert.deepEqual(t.toLists()[0], ['http://c/announce', 'http://a/announce', 'http://b/announce']);
    t.reset();
    assert.deepEqual(drain(t), ['http://c/announce', 'http://a/announce', 'http://b/announce', 'http://d/announce']);
    // Promoting one that is not current keeps the cursor on the same tracker.
    t.reset();
    t.next(); // a
    t.promote('http://b/announce');
    assert.equal(t.current(), 'http://a/announce');
    t.promote('http://d/announce');
    t.promote('http://nope/announce');
    assert.equal(t.current(), 'http://a/announce');
  });

  it('uses announce when the announce-list is absent or has nothing usable', () => {
    assert.deepEqual(new TrackerTiers([], 'http://x/announce', zero).urls(), ['http://x/announce']);
    assert.deepEqual(new TrackerTiers([['ws://y/announce']], 'udp://x:80', zero).urls(), ['udp://x:80']);
    assert.deepEqual(new TrackerTiers([['http://z/announce']], 'http://x/announce', zero).urls(), ['http://z/announce']);
    const none = new TrackerTiers([], undefined, zero);
    assert.equal(none.size, 0);
    assert.equal(none.current(), undefined);
    assert.equal(none.next(), undefined);
  });

  it('filters unsupported schemes, bad URLs, loopback paths and duplicates, and logs them', () => {
    const logged: string[] = [];
    const t = new TrackerTiers([
      ['wss://tracker.example/announce', 'http://a/announce', 'not a url', 'http://a/announce'],
      ['dht://x', 'http://127.0.0.1:8000/admin'],
      ['udp://noport.example/announce', 'udp://ok.example:6969/announce', 'http://127.0.0.1:8000/announce'],
    ], undefined, zero, (m) => logged.push(m));
    assert.deepEqual(t.toLists(), [['http://a/announce'], ['http://127.0.0.1:8000/announce', 'udp://ok.example:6969/announce']]);
    assert.equal(t.rejected.length, 5);
    assert.equal(logged.length, 5);
    assert.match(logged[0]!, /unsupported scheme wss:/);
    assert.ok(t.rejected.some((r) => /loopback/.test(r.reason)));
    assert.ok(t.rejected.some((r) => /port/.test(r.reason)));
  });
});
