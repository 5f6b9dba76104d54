#!/usr/bin/python3
"""Many torrents seeding in one libtorrent session: the libtorrent side of benchmark B4a (scripts/bench/scale-torrents.js).

Purpose: add every .torrent of --torrents (their data is in --save), let libtorrent check them (full check without
resume data; with --resume-dir holding resume files from an earlier run, a fast resume), and report when ALL of
them are seeding. On SIGTERM/SIGINT it stops; with --resume-dir it first saves every torrent's resume data there
(save_resume_data), so the next run is a warm start.

What it measures (the parent times the events; this script only reports them):
  {"event":"listening","port":P}                       the session's TCP port is open (127.0.0.1)
  {"event":"added","count":n,"resumed":r}              every add_torrent call returned (r of them with resume data)
  {"event":"all-seeding","count":n,"elapsed":s}        every torrent is seeding; s = seconds since this script began
  {"event":"progress","seeding":k,"checking":c,"count":n}   about once a second until then
  {"event":"saved","count":n,"elapsed":s}              resume data written on stop
  {"event":"error","code":..,"message":..}

Invariant: nothing leaves loopback: the session listens on 127.0.0.1 only, DHT/LSD/UPnP/NAT-PMP are off (the settings
of test/helpers/lt_peer.py make_settings, with the high_performance_seed pack), and every tracker is removed from
each torrent before it starts. Queue limits (active_seeds, active_limit, active_checking) are raised to at least the
number of torrents, so none of them waits in libtorrent's queue.

Exit codes: 0 = stopped by a signal (after saving), 2 = bad arguments, 3 = timeout, 4 = libtorrent error.
Run with /usr/bin/python3 (Debian's python3-libtorrent).
"""

import argparse
import json
import os
import signal
import sys
import time

T0 = time.monotonic()

# The loopback-only session settings, signals and JSON output are lt_peer.py's (one definition for every libtorrent
# process the tests and benchmarks start). Importing it also imports libtorrent, or reports NO_LIBTORRENT and exits 4.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "helpers"))
import lt_peer  # noqa: E402
from lt_peer import STOP, emit, lt, on_signal  # noqa: E402


def make_settings(n):
    """lt_peer.py's settings with --high-performance, plus queue limits that fit n torrents."""
    settings = lt_peer.make_settings(argparse.Namespace(high_performance=True, port=0, connections_limit=None))
    limit = max(1000, n + 10)
    settings.update({
        "user_agent": "lt_many.py/libtorrent-" + lt.__version__,
        "active_seeds": limit,
        "active_limit": limit,
        "active_checking": limit,
        "active_downloads": limit,
        "alert_queue_size": max(10000, 8 * n),
        "alert_mask": int(lt.alert.category_t.error_notification
                          | lt.alert.category_t.status_notification
                          | lt.alert.category_t.storage_notification),
    })
    return settings


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--torrents", required=True, help="folder of .torrent files")
    ap.add_argument("--save", required=True, help="save path: the folder that holds the torrents' files")
    ap.add_argument("--resume-dir", default=None, help="load resume data from here, save it here on stop")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds until every torrent must be seeding")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    names = sorted(n for n in os.listdir(args.torrents) if n.endswith(".torrent"))
    if not names:
        emit({"event": "error", "code": "USAGE", "message": "no .torrent files in " + args.torrents})
        return 2
    n = len(names)
    save = os.path.abspath(args.save)
    if args.resume_dir:
        os.makedirs(args.resume_dir, exist_ok=True)

    ses = lt.session(make_settings(n))
    port = 0
    while port == 0:
        port = ses.listen_port()
        if port == 0:
            if time.monotonic() - T0 > 10:
                emit({"event": "error", "code": "LISTEN_TIMEOUT", "message": "no listen socket after 10 s"})
                return 4
            time.sleep(0.01)
    emit({"event": "listening", "port": port})

    flags = (lt.torrent_flags.auto_managed | lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd)
    resumed = 0
    for name in names:
        ti = lt.torrent_info(os.path.join(args.torrents, name))
        atp = None
        if args.resume_dir:
            path = os.path.join(args.resume_dir, str(ti.info_hash()) + ".resume")
            try:
                with open(path, "rb") as f:
                    atp = lt.read_resume_data(f.read())
                resumed += 1
            except (OSError, RuntimeError):
                atp = None
        if atp is None:
            atp = lt.add_torrent_params()
        atp.ti = ti
        atp.save_path = save
        atp.trackers = []
        atp.url_seeds = []
        atp.flags = flags
        ses.async_add_torrent(atp)
    emit({"event": "added", "count": n, "resumed": resumed})

    handles = {}
    seeding = set()
    deadline = T0 + args.timeout
    last_report = 0.0
    all_done = False
    exit_code = 0
    while not STOP["requested"]:
        now = time.monotonic()
        if not all_done and now > deadline:
            emit({"event": "error", "code": "TIMEOUT",
                  "message": "%d of %d torrents seeding after %.0f s" % (len(seeding), n, args.timeout)})
            exit_code = 3
            break
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, lt.add_torrent_alert):
                if a.error.value():
                    emit({"event": "error", "code": "ADD_FAILED", "message": a.message()})
                else:
                    handles[str(a.handle.info_hash())] = a.handle
            elif isinstance(a, lt.state_changed_alert):
                h = str(a.handle.info_hash())
                if a.state == lt.torrent_status.states.seeding:
                    seeding.add(h)
                else:
                    seeding.discard(h)
            elif isinstance(a, (lt.torrent_error_alert, lt.file_error_alert, lt.fastresume_rejected_alert)):
                emit({"event": "error", "code": type(a).__name__, "message": a.message()})
        if not all_done and now - last_report >= 1.0:
            # Alerts can be dropped when the queue overflows: the statuses are the truth, asked once a second.
            last_report = now
            sts = ses.get_torrent_status(lambda st: True, 0)
            seeding = set(str(st.handle.info_hash()) for st in sts if st.state == lt.torrent_status.states.seeding)
            checking = sum(1 for st in sts if st.state in (lt.torrent_status.states.checking_files,
                                                           lt.torrent_status.states.checking_resume_data))
            emit({"event": "progress", "seeding": len(seeding), "checking": checking, "count": n})
        if not all_done and len(seeding) >= n:
            all_done = True
            emit({"event": "all-seeding", "count": n, "elapsed": time.monotonic() - T0})

    if args.resume_dir and handles:
        started = time.monotonic()
        ses.pause()
        wanted = 0
        for h in handles.values():
            h.save_resume_data(lt.torrent_handle.save_info_dict)
            wanted += 1
        saved = 0
        failed = 0
        stop_by = time.monotonic() + 60
        while saved + failed < wanted and time.monotonic() < stop_by:
            ses.wait_for_alert(200)
            for a in ses.pop_alerts():
                if isinstance(a, lt.save_resume_data_alert):
                    data = lt.write_resume_data_buf(a.params)
                    path = os.path.join(args.resume_dir, str(a.handle.info_hash()) + ".resume")
                    with open(path + ".tmp", "wb") as f:
                        f.write(data)
                    os.replace(path + ".tmp", path)
                    saved += 1
                elif isinstance(a, lt.save_resume_data_failed_alert):
                    failed += 1
        emit({"event": "saved", "count": saved, "failed": failed, "elapsed": time.monotonic() - started})
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
