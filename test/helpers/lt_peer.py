#!/usr/bin/python3
"""A small libtorrent (python3-libtorrent 2.0) peer for bitpeer's interop tests and throughput script.

Purpose: run one libtorrent session with one torrent on 127.0.0.1 only, as a seed or as a downloader, and report what
happens as one JSON object per line on stdout (the same shape as `bitpeer --json`, where it makes sense). Or, with
--mode create, make a .torrent with libtorrent's create_torrent (no session, no network) and report its hashes.

  {"event":"listening","port":P}            the TCP port is open (seed mode: only after the data check passed)
  {"event":"added","infoHash":hex,"name":..,"pieces":N,"size":B,"infoHashV1":hex|null,"infoHashV2":hex|null,
   "version":"v1"|"v2"|"hybrid"}            the torrent as libtorrent parsed it: infoHash is its wire name (the v1
                                            info-hash, or for a v2-only torrent the SHA-256 truncated to 20 bytes);
                                            infoHashV2 is the full 64-hex SHA-256 (BEP 52)
  {"event":"created","torrent":path,"infoHash":..,"infoHashV1":..,"infoHashV2":..,"version":..,"pieces":N,
   "files":[{"path":..,"size":B,"pad":bool}]}   --mode create: the .torrent was written (files as libtorrent lays them
                                            out, pad files included and marked)
  {"event":"checked","have":n,"pieces":N}   the start-up check of the data on disk is done
  {"event":"progress","have":n,"pieces":N,"downloaded":B,"uploaded":B,"downRate":B/s,"upRate":B/s,"peers":n,"state":s}
  {"event":"peer-connect","peer":"ip:port"} / {"event":"peer-disconnect","peer":"ip:port","reason":"..."}
  {"event":"peer-info","peer":"ip:port","client":"..","source":["tracker"|"pex"|"incoming"|..],"outgoing":bool}
                                            the first time a peer shows up in the torrent's peer list
                                            (not with --no-peer-info)
  {"event":"peer-link","peer":"ip:port","transport":"tcp"|"utp","encryption":"rc4"|"plaintext-mse"|"none",
   "outgoing":bool}                         once per peer and transport, when the connection's handshake is done:
                                            how libtorrent reached that peer (not with --no-peer-info)
  {"event":"tracker-announce","url":..,"trackerEvent":"started"|"completed"|"stopped"|""}   an announce was sent
  {"event":"tracker-reply","url":..,"peers":n} / {"event":"tracker-error","url":..,"message":..}
  {"event":"tracker-warning","url":..,"message":..}     (only with --tracker / --keep-trackers)
  {"event":"complete","elapsed":seconds}    download mode: every piece is downloaded and hash-checked
  {"event":"peer-totals","peers":[{"peer":"ip:port","client":..,"downloaded":B,"uploaded":B}]}
                                            only with --peer-totals: at exit, after one last progress event; payload
                                            bytes per peer connection (last seen while connected; sampled every 0.1 s)
  {"event":"error","code":"..","message":".."}

Invariant: the session never reaches beyond loopback. It listens on 127.0.0.1 only; DHT, LSD, UPnP and NAT-PMP are
off; by default the torrent's trackers are removed before it starts, so peers come only from --peer (and from PEX
among them). With --keep-trackers the torrent's own trackers stay, and each --tracker URL is added (and implies
--keep-trackers): the caller must make sure those trackers are on loopback too.
Connection settings: by default plain TCP only (no uTP) and no encryption, so the peer on the other side can be a
plain BEP 3 implementation. --encryption stock keeps libtorrent's default policy (pe_enabled both ways, both levels),
--encryption forced is RC4 only both ways (qBittorrent's "Require encryption"). --utp-only turns TCP off both ways
(enable_outgoing_tcp/enable_incoming_tcp false) and uTP (BEP 29) on; it combines with any --encryption.
--stock overrides none of libtorrent's connection settings: uTP and TCP both on (uTP tried first, mixed mode as
libtorrent ships) and the default encryption policy, which is what qBittorrent and Deluge users run; an --encryption
given with it overrides only the encryption policy (e.g. --stock --encryption forced); it does not combine with
--utp-only.

--upload-limit B: the session's upload rate limit in bytes/s, for loopback peers too (they are in libtorrent's "local"
peer class, which the session-wide limit does not cover, so that class gets the same limit).

--mode create --content PATH --torrent OUT [--format v1|v2|hybrid] [--piece-length N]: create_torrent with flags
v1_only, v2_only or 0 (libtorrent 2's default, hybrid), pieces hashed from PATH (a file or a folder).

Exit codes: 0 = finished (download, create), or stopped by SIGTERM/SIGINT (seed, or download with --keep-seeding); 2 = bad arguments or bad data for seeding;
3 = timeout; 4 = libtorrent error. Protocols exercised: BEP 3 (peer wire), BEP 10/11 when the other side offers them.

Run with an interpreter that has the bindings: on Debian that is /usr/bin/python3 (see test/helpers/python.ts).
"""

import argparse
import json
import os
import signal
import sys
import time

try:
    import libtorrent as lt
except ImportError as e:  # pragma: no cover - reported to the caller as a JSON error line
    print(json.dumps({"event": "error", "code": "NO_LIBTORRENT", "message": str(e)}), flush=True)
    sys.exit(4)

STOP = {"requested": False}


def emit(obj):
    """Print one JSON event line and flush, so a parent process sees it at once."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def on_signal(_signum, _frame):
    STOP["requested"] = True


def parse_peer(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError("peer must be HOST:PORT, got %r" % text)
    return (host.strip("[]"), int(port))


def make_settings(args):
    """The session settings for parsed arguments; options a caller's Namespace lacks (scripts/bench/lt_many.py passes
    only high_performance, port and connections_limit) take their command-line defaults."""
    for name, default in (("stock", False), ("encryption", None), ("utp_only", False), ("upload_limit", 0)):
        if not hasattr(args, name):
            setattr(args, name, default)
    settings = {}
    if args.high_performance:
        pack = lt.high_performance_seed()
        for key in pack:
            settings[key] = pack[key]
        settings["tick_interval"] = 100
    settings.update({
        "listen_interfaces": "127.0.0.1:%d" % args.port,
        "listen_system_port_fallback": False,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "user_agent": "lt_peer.py/libtorrent-" + lt.__version__,
        "alert_mask": int(lt.alert.category_t.error_notification
                          | lt.alert.category_t.status_notification
                          | lt.alert.category_t.storage_notification
                          | lt.alert.category_t.connect_notification
                          | lt.alert.category_t.tracker_notification),
    })
    if not args.stock:
        settings.update({
            "enable_outgoing_utp": False,
            "enable_incoming_utp": False,
            "enable_outgoing_tcp": True,
            "enable_incoming_tcp": True,
        })
    encryption = args.encryption or ("stock" if args.stock else "disabled")
    if encryption == "disabled":
        settings["out_enc_policy"] = int(lt.enc_policy.disabled)
        settings["in_enc_policy"] = int(lt.enc_policy.disabled)
    elif encryption == "forced":
        # What qBittorrent's "Require encryption" sets: MSE with RC4 only, both ways.
        settings["out_enc_policy"] = int(lt.enc_policy.forced)
        settings["in_enc_policy"] = int(lt.enc_policy.forced)
        settings["allowed_enc_level"] = int(lt.enc_level.rc4)
    elif encryption == "stock":
        # libtorrent's own defaults (pe_enabled both ways, both levels, prefer_rc4 off).
        default = lt.default_settings()
        for key in ("out_enc_policy", "in_enc_policy", "allowed_enc_level", "prefer_rc4"):
            settings[key] = default[key]
    if args.connections_limit is not None:
        settings["connections_limit"] = args.connections_limit
    if args.upload_limit > 0:
        # The session-wide limit; loopback peers are in the local peer class, limited in main() as well.
        settings["upload_rate_limit"] = args.upload_limit
        settings["rate_limit_ip_overhead"] = False
    if args.utp_only:
        settings.update({"enable_outgoing_utp": True, "enable_incoming_utp": True,
                         "enable_outgoing_tcp": False, "enable_incoming_tcp": False})
    return settings


def endpoint_text(ep):
    try:
        host, port = ep[0], ep[1]
    except (TypeError, IndexError):
        return str(ep)
    return ("[%s]:%d" if ":" in str(host) else "%s:%d") % (host, port)


TRACKER_EVENTS = {0: "", 1: "completed", 2: "started", 3: "stopped", 4: "paused"}

# peer_info flag bits libtorrent 2.0 does not export to Python: utp_socket is 1 << 17 (between i2p_socket and
# ssl_socket; rc4_encrypted, exported, is 1 << 19).
UTP_SOCKET = 1 << 17
IN_HANDSHAKE = int(lt.peer_info.handshake) | int(lt.peer_info.connecting)

SOURCE_BITS = [(1, "tracker"), (2, "dht"), (4, "pex"), (8, "lsd"), (16, "resume_data"), (32, "incoming")]


def source_names(bits):
    return [name for bit, name in SOURCE_BITS if int(bits) & bit]


def client_text(raw):
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return str(raw)


def hashes_of(info):
    """The info-hashes of a torrent_info: the wire name (v1, else the truncated v2), both in full, the version.
    (torrent_info.info_hash() is the truncated v2 hash for a hybrid, not the v1 one: not used.)"""
    ih = info.info_hashes()
    v1 = str(ih.v1) if ih.has_v1() else None
    v2 = str(ih.v2) if ih.has_v2() else None
    return {"infoHash": v1 if v1 is not None else v2[:40], "infoHashV1": v1, "infoHashV2": v2,
            "version": "hybrid" if v1 and v2 else ("v2" if v2 else "v1")}


def create(args):
    """--mode create: a .torrent of args.content made by libtorrent's create_torrent."""
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[args.format]
    content = os.path.abspath(args.content)
    fs = lt.file_storage()
    lt.add_files(fs, content)
    if fs.num_files() == 0:
        emit({"event": "error", "code": "NO_FILES", "message": "nothing to add under %s" % content})
        return 2
    ct = lt.create_torrent(fs, args.piece_length, flags)
    ct.set_creator("lt_peer.py/libtorrent-" + lt.__version__)
    lt.set_piece_hashes(ct, os.path.dirname(content))
    data = lt.bencode(ct.generate())
    with open(args.torrent, "wb") as f:
        f.write(data)
    info = lt.torrent_info(args.torrent)
    files = info.files()
    emit(dict({"event": "created", "torrent": args.torrent, "pieces": info.num_pieces(),
               "pieceLength": info.piece_length(),
               "files": [{"path": files.file_path(i), "size": files.file_size(i),
                          "pad": bool(files.file_flags(i) & lt.file_storage.flag_pad_file)}
                         for i in range(files.num_files())]}, **hashes_of(info)))
    return 0


DONE_CHECKING_STATES = {
    lt.torrent_status.states.downloading,
    lt.torrent_status.states.finished,
    lt.torrent_status.states.seeding,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["seed", "download", "create"], required=True)
    ap.add_argument("--torrent", required=True, help="the .torrent to use (seed, download) or to write (create)")
    ap.add_argument("--save", help="save path: the folder that holds the torrent's file or folder (seed, download)")
    ap.add_argument("--content", help="create: the file or folder to make the torrent of")
    ap.add_argument("--format", choices=["v1", "v2", "hybrid"], default="hybrid",
                    help="create: v1_only, v2_only, or hybrid (flags 0, libtorrent 2's default)")
    ap.add_argument("--piece-length", type=int, default=0, help="create: piece size (0 = libtorrent's choice)")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1, 0 = any free port")
    ap.add_argument("--peer", type=parse_peer, action="append", default=[], help="HOST:PORT to connect to (repeat)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds; download default 300, seed default none")
    ap.add_argument("--high-performance", action="store_true", help="high_performance_seed() pack, tick_interval 100")
    ap.add_argument("--no-pex", action="store_true", help="disable ut_pex for this torrent")
    ap.add_argument("--encryption", choices=["disabled", "stock", "forced"], default=None,
                    help="MSE/PE: disabled (default; stock with --stock), stock (libtorrent's defaults) or forced "
                         "(RC4 only, both ways)")
    ap.add_argument("--stock", action="store_true",
                    help="libtorrent's stock connection settings: uTP and TCP both on, default encryption policy")
    ap.add_argument("--connections-limit", type=int, default=None,
                    help="session connections_limit (default: libtorrent's, 8000 with --high-performance)")
    ap.add_argument("--no-peer-info", action="store_true",
                    help="no peer-info events: skips the get_peer_info() scan every 100 ms (it costs CPU with many peers)")
    ap.add_argument("--progress-interval", type=float, default=1.0)
    ap.add_argument("--tracker", action="append", default=[],
                    help="announce to this tracker URL too (repeat); keeps the torrent's own trackers")
    ap.add_argument("--keep-trackers", action="store_true", help="keep the torrent's own trackers (default: remove)")
    ap.add_argument("--keep-seeding", action="store_true",
                    help="download mode: after 'complete', keep running (seeding) until SIGTERM/SIGINT")
    ap.add_argument("--utp-only", action="store_true", help="uTP only: TCP off for outgoing and incoming peers")
    ap.add_argument("--upload-limit", type=int, default=0,
                    help="session upload rate limit in bytes/s, also for peers on the local network (0 = none)")
    ap.add_argument("--peer-totals", action="store_true",
                    help="at exit, print a last progress event and a peer-totals event (payload bytes per peer)")
    args = ap.parse_args()
    if args.stock and args.utp_only:
        ap.error("--stock and --utp-only do not combine (--stock keeps TCP on)")
    if args.mode == "create":
        if not args.content:
            ap.error("--mode create needs --content")
        return create(args)
    if not args.save:
        ap.error("--mode %s needs --save" % args.mode)

    timeout = args.timeout if args.timeout is not None else (300.0 if args.mode == "download" else 0.0)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        info = lt.torrent_info(args.torrent)
    except RuntimeError as e:
        emit({"event": "error", "code": "BAD_TORRENT", "message": str(e)})
        return 2
    os.makedirs(args.save, exist_ok=True)

    start = time.monotonic()
    ses = lt.session(make_settings(args))
    if args.upload_limit > 0:
        # 127.0.0.1 is in the "local" peer class, which the session-wide rate limit does not cover: limit it too.
        local = ses.get_peer_class(lt.session.local_peer_class_id)
        local["upload_limit"] = args.upload_limit
        ses.set_peer_class(lt.session.local_peer_class_id, local)

    # Wait for the listen socket (listen_port() is 0 until it is open).
    port = 0
    while port == 0:
        for a in ses.pop_alerts():
            if isinstance(a, lt.listen_failed_alert):
                emit({"event": "error", "code": "LISTEN_FAILED", "message": a.message()})
                return 4
        port = ses.listen_port()
        if port == 0:
            if time.monotonic() - start > 10:
                emit({"event": "error", "code": "LISTEN_TIMEOUT", "message": "no listen socket after 10 s"})
                return 4
            time.sleep(0.02)

    atp = lt.add_torrent_params()
    atp.ti = info
    atp.save_path = os.path.abspath(args.save)
    # Paused and not auto-managed: we remove the trackers before anything can announce.
    flags = (lt.torrent_flags.paused | lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd)
    if args.no_pex:
        flags |= lt.torrent_flags.disable_pex
    atp.flags = flags
    handle = ses.add_torrent(atp)
    use_trackers = args.keep_trackers or bool(args.tracker)
    if not use_trackers:
        handle.replace_trackers([])
    else:
        tier = max([t["tier"] for t in handle.trackers()] + [-1]) + 1
        for url in args.tracker:
            handle.add_tracker({"url": url, "tier": tier})
            tier += 1
    for url in list(handle.url_seeds()):
        handle.remove_url_seed(url)
    for url in list(handle.http_seeds()):
        handle.remove_http_seed(url)
    handle.resume()
    added_at = time.monotonic()

    pieces = info.num_pieces()
    emit(dict({"event": "added", "name": info.name(), "pieces": pieces,
               "size": info.total_size(), "trackers": [t["url"] for t in handle.trackers()]}, **hashes_of(info)))
    if args.mode == "download":
        emit({"event": "listening", "port": port})

    checked = False
    checked_emitted = False
    finished = False
    peers_connected = set()
    last_progress = 0.0
    last_dial = 0.0
    last_peer_scan = 0.0
    peers_seen = set()
    links_seen = set()
    peer_totals = {}  # with --peer-totals: "ip:port" -> {"client", "downloaded", "uploaded"}, last seen
    completed = False
    exit_code = 0

    def progress(st, final=False):
        emit({"event": "progress", "have": st.num_pieces, "pieces": pieces,
              "downloaded": st.total_payload_download,
              "uploaded": st.total_payload_upload, "downRate": st.download_payload_rate,
              "upRate": st.upload_payload_rate, "peers": st.num_peers, "state": str(st.state)})

    while True:
        if STOP["requested"]:
            break
        now = time.monotonic()
        if timeout > 0 and now - start > timeout:
            st = handle.status()
            emit({"event": "error", "code": "TIMEOUT",
                  "message": "no completion after %.1f s (have %d of %d pieces)" % (timeout, st.num_pieces, pieces)})
            exit_code = 3
            break

        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_checked_alert):
                checked = True
            elif isinstance(a, lt.torrent_finished_alert):
                finished = True
            elif isinstance(a, lt.peer_connect_alert):
                peer = endpoint_text(a.endpoint)
                peers_connected.add(peer)
                emit({"event": "peer-connect", "peer": peer})
            elif isinstance(a, lt.peer_disconnected_alert):
                peer = endpoint_text(a.endpoint)
                peers_connected.discard(peer)
                emit({"event": "peer-disconnect", "peer": peer, "reason": a.message()})
            elif isinstance(a, (lt.torrent_error_alert, lt.file_error_alert, lt.fastresume_rejected_alert)):
                emit({"event": "error", "code": type(a).__name__, "message": a.message()})
            elif isinstance(a, lt.hash_failed_alert):
                emit({"event": "hash-failed", "piece": a.piece_index})
            elif isinstance(a, lt.tracker_announce_alert):
                emit({"event": "tracker-announce", "url": a.tracker_url(),
                      "trackerEvent": TRACKER_EVENTS.get(int(a.event), str(a.event))})
            elif isinstance(a, lt.tracker_reply_alert):
                emit({"event": "tracker-reply", "url": a.tracker_url(), "peers": a.num_peers})
            elif isinstance(a, lt.tracker_error_alert):
                emit({"event": "tracker-error", "url": a.tracker_url(), "message": a.message()})
            elif isinstance(a, lt.tracker_warning_alert):
                emit({"event": "tracker-warning", "url": a.tracker_url(), "message": a.message()})

        st = handle.status()
        if not checked and st.state in DONE_CHECKING_STATES:
            checked = True  # the state tells us too, in case the alert came before we looked
        if checked and not checked_emitted:
            checked_emitted = True
            emit({"event": "checked", "have": st.num_pieces, "pieces": pieces})
            if args.mode == "seed":
                if not (st.is_seeding or st.num_pieces == pieces):
                    emit({"event": "error", "code": "DATA_INCOMPLETE",
                          "message": "seed data check: have %d of %d pieces in %s" % (st.num_pieces, pieces,
                                                                                      args.save)})
                    exit_code = 2
                    break
                emit({"event": "listening", "port": port})

        # Report every peer once, with where libtorrent learned it (tracker, pex, incoming...).
        if not args.no_peer_info and now - last_peer_scan >= 0.1:
            last_peer_scan = now
            for p in handle.get_peer_info():
                peer = endpoint_text(p.ip)
                if args.peer_totals:
                    peer_totals[peer] = {"client": client_text(p.client), "downloaded": p.total_download,
                                         "uploaded": p.total_upload}
                flags = int(p.flags)
                transport = "utp" if flags & UTP_SOCKET else "tcp"
                if not flags & IN_HANDSHAKE and (peer, transport) not in links_seen:
                    links_seen.add((peer, transport))
                    enc = ("rc4" if flags & int(lt.peer_info.rc4_encrypted)
                           else "plaintext-mse" if flags & int(lt.peer_info.plaintext_encrypted) else "none")
                    emit({"event": "peer-link", "peer": peer, "transport": transport, "encryption": enc,
                          "outgoing": bool(flags & int(lt.peer_info.outgoing_connection))})
                if peer in peers_seen:
                    continue
                peers_seen.add(peer)
                emit({"event": "peer-info", "peer": peer, "client": client_text(p.client),
                      "source": source_names(p.source),
                      "outgoing": bool(p.flags & lt.peer_info.outgoing_connection)})

        if (args.mode == "download" and not completed
                and (finished or st.is_seeding or (checked and st.num_pieces == pieces))):
            completed = True
            progress(st, final=True)
            emit({"event": "complete", "elapsed": round(time.monotonic() - added_at, 3)})
            if not args.keep_seeding:
                break
            timeout = 0.0  # seeding on until stopped

        # Dial every --peer we are not connected to, once a second, until the download finishes.
        if checked and args.peer and now - last_dial >= 1.0:
            last_dial = now
            connected = set()
            for p in handle.get_peer_info():
                connected.add(endpoint_text(p.ip))
            for host, pport in args.peer:
                if endpoint_text((host, pport)) not in connected:
                    try:
                        handle.connect_peer((host, pport))
                    except RuntimeError as e:
                        emit({"event": "error", "code": "CONNECT_PEER", "message": str(e)})

        if now - last_progress >= args.progress_interval:
            last_progress = now
            progress(st)
        time.sleep(0.02)

    if args.peer_totals:
        try:
            for p in handle.get_peer_info():
                peer_totals[endpoint_text(p.ip)] = {"client": client_text(p.client), "downloaded": p.total_download,
                                                    "uploaded": p.total_upload}
            progress(handle.status(), final=True)
        except RuntimeError:
            pass
        emit({"event": "peer-totals", "peers": [dict(peer=k, **v) for k, v in sorted(peer_totals.items())]})

    # Clean shutdown: pause, drop the torrent (flushes and closes files), then let the session go.
    try:
        ses.pause()
        ses.remove_torrent(handle)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if any(isinstance(a, lt.torrent_removed_alert) for a in ses.pop_alerts()):
                break
            time.sleep(0.02)
    except RuntimeError:
        pass
    del ses
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
