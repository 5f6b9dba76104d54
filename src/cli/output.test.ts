// The live progress line: fitted to any terminal width, bytes done/total, and why nothing moves when no peer is there.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { SessionEvent } from '../api/types.js';
import { liveLine, plainTrackerError, Reporter, trackerName } from './output.js';

type Progress = Extract<SessionEvent, { event: 'progress' }>;
const progress = (over: Partial<Progress> = {}): Progress => ({
  event: 'progress', infoHash: 'ab', have: 42, pieces: 100, percent: 42, downloaded: 1_288_490_189, uploaded: 0,
  downRate: 1_258_291, upRate: 512, peers: 3, etaSeconds: 62, completedBytes: 1_288_490_189, size: 3_113_851_290, ...over,
});

/** A fake terminal stream of `columns` columns that keeps what is written. */
function fakeTty(columns: number): NodeJS.WriteStream & { text: () => string } {
  const s = new PassThrough() as unknown as NodeJS.WriteStream & { text: () => string };
  let buf = '';
  Object.assign(s, { isTTY: true, columns, write: (c: string) => { buf += c; return true; }, text: () => buf });
  return s;
}

describe('liveLine', () => {
  it('shows percent, bytes done/total, rates, peers and ETA when there is room', () => {
    assert.equal(liveLine(progress(), undefined, 200), ' 42.0%  1.2 GiB/2.9 GiB  ↓ 1.2 MiB/s  ↑ 512 B/s  peers 3  ETA 1m02s');
  });

  it('never exceeds the width, from 1 to 120 columns, and keeps bytes done/total down to 25 columns', () => {
    for (let w = 1; w <= 120; w++) {
      for (const status of [undefined, ['tracker 192.168.1.11:6881: connection refused; retry in 30 s', 'connection refused (retry 30s)']]) {
        const line = liveLine(progress(status ? { peers: 0 } : {}), status, w);
        assert.ok(line.length <= w, `${w}: ${line}`);
        if (w >= 25 && !status) assert.match(line, /1\.2 GiB\/2\.9 GiB/, `${w}: ${line}`);
      }
    }
  });

  it('uses the first status variant that fits', () => {
    const line = liveLine(progress({ peers: 0, percent: 0 }), ['tracker 1.2.3.4:6881: connection refused; retry in 30 s', 'connection refused (retry 30s)'], 39);
    assert.equal(line, '  0.0%  connection refused (retry 30s)');
  });
});

describe('Reporter', () => {
  it('shows a refusing tracker and its retry countdown on the live line while no peer is connected', () => {
    let now = 1_000_000;
    const err = fakeTty(100);
    const out = fakeTty(100);
    const r = new Reporter(false, false, out, err, () => now);
    r.event(progress({ peers: 0, percent: 0 }));
    assert.match(err.text(), /peers 0 {2}ETA 1m02s {2}no peers yet$/);
    r.event({ event: 'tracker-error', infoHash: 'ab', url: 'http://192.168.1.11:6881/announce', message: 'connect ECONNREFUSED 192.168.1.11:6881', retryInSec: 30 });
    assert.match(out.text(), /^tracker 192\.168\.1\.11:6881: connection refused; retry in 30 s\n$/);
    now += 12_000;
    r.event(progress({ peers: 0, percent: 0 }));
    assert.match(err.text(), /tracker 192\.168\.1\.11:6881: connection refused; retry in 18 s$/);
    // The same failure again is not printed again (only with --verbose); the live line shows it.
    r.event({ event: 'tracker-error', infoHash: 'ab', url: 'http://192.168.1.11:6881/announce', message: 'connect ECONNREFUSED 192.168.1.11:6881', retryInSec: 60 });
    assert.equal(out.text().split('\n').length, 2);
    r.done();
  });

  it('redraws the live line to the new width when the terminal is resized', () => {
    const err = fakeTty(100);
    const r = new Reporter(false, false, fakeTty(100), err);
    r.event(progress());
    const before = err.text().length;
    Object.assign(err, { columns: 30 });
    err.emit('resize');
    const redrawn = err.text().slice(before);
    assert.ok(redrawn.startsWith('\r\x1b[K'), 'cleared and redrawn');
    assert.ok(redrawn.length - 4 < 30, redrawn);
    r.done();
    assert.equal(err.listenerCount('resize'), 0, 'done() stops listening');
  });

  it('says what happens after completion', () => {
    const out = fakeTty(100);
    const r = new Reporter(false, false, out, fakeTty(100));
    r.setAfterComplete('exiting');
    r.event({ event: 'complete', infoHash: 'ab', elapsedMs: 3210, downloaded: 5 });
    assert.equal(out.text(), 'download complete in 3.2 s; exiting\n');
  });

  it('names trackers by host:port and common failures in plain words', () => {
    assert.equal(trackerName('udp://tracker.example:6969/announce'), 'tracker.example:6969');
    assert.equal(plainTrackerError('connect ECONNREFUSED 127.0.0.1:9'), 'connection refused');
    assert.equal(plainTrackerError('unregistered torrent'), 'unregistered torrent');
  });
});

it('the live line shows the DHT node count while the DHT runs, and drops it first when narrow', () => {
  const p = { event: 'progress' as const, infoHash: 'a'.repeat(40), have: 1, pieces: 4, percent: 25, downloaded: 10, uploaded: 0,
    downRate: 1024, upRate: 0, peers: 2, etaSeconds: 30, dhtNodes: 37 };
  assert.match(liveLine(p, undefined, 200), /peers 2 {2}DHT 37 {2}ETA/);
  assert.doesNotMatch(liveLine({ ...p, dhtNodes: undefined }, undefined, 200), /DHT/);
  const narrow = liveLine(p, undefined, liveLine(p, undefined, 200).length - 1);
  assert.doesNotMatch(narrow, /DHT/);
  assert.match(narrow, /peers 2/);
});
