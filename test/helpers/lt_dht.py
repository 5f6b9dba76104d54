#!/usr/bin/python3
"""A libtorrent (python3-libtorrent 2.0) node of a private DHT, for bitpeer's DHT interop tests.

Purpose: run one libtorrent session whose DHT lives on one address (127.0.0.1 by default) and is bootstrapped only
from the nodes given with --bootstrap, and report what happens as one JSON object per line on stdout. Three modes:

  --mode node                       a DHT node only (no torrent): a meeting point for other nodes
  --mode seed --torrent T --save D  check D's data of T, then seed it and announce it on the DHT
                                    (force_dht_announce once the DHT has a node, then every --announce-every s)
  --mode download --magnet URI --save D
                                    add a magnet link and download it; peers come from the DHT only (the magnet's
                                    trackers are dropped); the DHT lookup is forced when the DHT gets its first node
                                    and again every --announce-every s while no peer is connected

Events (the shape of lt_peer.py and `bitpeer --json` where it makes sense):
  {"event":"listening","port":P}          TCP and UDP (uTP and the DHT) share port P (seed: after the data check)
  {"event":"added","infoHash":hex,"name":..}  the torrent (name is null for a magnet without dn)
  {"event":"dht","nodes":n,"torrents":n,"peers":n}  the DHT routing table size (dht.dht_nodes), the info-hashes and
                                          peers stored by this node; printed whenever one of them changes
  {"event":"dht-bootstrap"}               libtorrent's DHT bootstrap finished (dht_bootstrap_alert)
  {"event":"dht-blocked","message":..}    libtorrent's DHT DoS blocker banned a source IP (a dht_log_alert)
  {"event":"dht-announce","reason":..}    force_dht_announce() was called (reason: first-node, interval)
  {"event":"dht-query","dir":"out"|"in","q":..,"node":"ip:port","infoHash":hex|null}   a KRPC query sent or received
                                          (get_peers, announce_peer, find_node, ping) — from dht_pkt_alert
  {"event":"dht-values","node":"ip:port","peers":["ip:port",..]}   a node answered one of our get_peers with peers
  {"event":"dht-reply","peers":n}         one of our DHT lookups returned n peers (dht_reply_alert)
  {"event":"dht-stored","infoHash":hex,"peer":"ip:port"}   another node announced to us (dht_announce_alert)
  {"event":"metadata","elapsed":s}        download: the info dict arrived (BEP 9), s after the magnet was added
  {"event":"peer-info","peer":"ip:port","client":..,"source":[..],"transport":"tcp"|"utp","encryption":..,
   "outgoing":bool}                       once per peer, when its handshake is done; source "dht" = found on the DHT
  {"event":"progress","have":n,"pieces":N,"downloaded":B,"uploaded":B,"peers":n,"state":s}
  {"event":"complete","elapsed":s,"metadataElapsed":s|null}  download: every piece checked, s after the magnet
  {"event":"error","code":..,"message":..}

Invariant: the session never reaches beyond --interface (default 127.0.0.1): it listens there only, LSD, UPnP and
NAT-PMP are off, its DHT bootstrap list is exactly --bootstrap (empty without it: libtorrent's default is a public
router, which is replaced before the session starts), trackers and web seeds are removed. Everything else is
libtorrent's stock configuration (uTP tried first, encryption pe_enabled), except what a private DHT on one address
needs: dht_restrict_routing_ips and dht_restrict_search_ips off (else one node per IP),
allow_multiple_connections_per_ip on (every peer shares 127.0.0.1), and dht_block_ratelimit raised: libtorrent's DHT
DoS blocker counts incoming packets per source IP and ignores an IP for 5 minutes after more than 5 in a second, and
here every node of the test (bitpeer's and libtorrent's) is the one IP 127.0.0.1 (a bitpeer get bootstrapped from a
libtorrent node once found it deaf for its whole run). A block that happens anyway is reported (dht-blocked). --plain turns uTP and encryption off.

Exit codes: 0 = download complete (without --keep-seeding), or stopped by SIGTERM/SIGINT; 2 = bad arguments or bad
data for seeding; 3 = timeout; 4 = libtorrent error. BEP 5 (DHT), 9 (metadata), 3/10/29 (wire, uTP).

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

SOURCE_BITS = [(1, "tracker"), (2, "dht"), (4, "pex"), (8, "lsd"), (16, "resume_data"), (32, "incoming")]
# peer_info flag bits libtorrent 2.0 does not export to Python (see lt_peer.py): utp_socket is 1 << 17.
UTP_SOCKET = 1 << 17
IN_HANDSHAKE = int(lt.peer_info.handshake) | int(lt.peer_info.connecting)
DONE_CHECKING_STATES = {
    lt.torrent_status.states.downloading,
    lt.torrent_status.states.finished,
    lt.torrent_status.states.seeding,
}
# The KRPC queries worth reporting (pings and find_node are reported too: they show who bootstrapped from whom).
REPORTED_QUERIES = {b"get_peers", b"announce_peer", b"find_node", b"ping"}


def emit(obj):
    """Print one JSON event line and flush, so a parent process sees it at once."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def on_signal(_signum, _frame):
    STOP["requested"] = True


def parse_node(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError("node must be HOST:PORT, got %r" % text)
    return (host.strip("[]"), int(port))


def endpoint_text(ep):
    try:
        host, port = ep[0], ep[1]
    except (TypeError, IndexError):
        return str(ep)
    return ("[%s]:%d" if ":" in str(host) else "%s:%d") % (host, port)


def client_text(raw):
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return str(raw)


def make_settings(args):
    """Stock libtorrent, bound to --interface, with a DHT that knows only the --bootstrap nodes."""
    settings = {
        "listen_interfaces": "%s:%d" % (args.interface, args.port),
        "listen_system_port_fallback": False,
        "enable_dht": True,
        # Replaces libtorrent's default (a public router). Empty: this node is a bootstrap node itself.
        "dht_bootstrap_nodes": ",".join("%s:%d" % n for n in args.bootstrap),
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        # Packets per second per source IP before libtorrent blocks it (stock: 5, then 5 minutes of silence).
        "dht_block_ratelimit": 10000,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "user_agent": "lt_dht.py/libtorrent-" + lt.__version__,
        "alert_mask": int(lt.alert.category_t.error_notification
                          | lt.alert.category_t.status_notification
                          | lt.alert.category_t.storage_notification
                          | lt.alert.category_t.dht_notification
                          | lt.alert.category_t.dht_log_notification
                          | lt.alert.category_t.dht_operation_notification
                          | lt.alert.category_t.tracker_notification),
    }
    if args.plain:
        settings.update({"enable_outgoing_utp": False, "enable_incoming_utp": False,
                         "out_enc_policy": int(lt.enc_policy.disabled),
                         "in_enc_policy": int(lt.enc_policy.disabled)})
    return settings


def hex_of(value):
    if isinstance(value, bytes) and len(value) == 20:
        return value.hex()
    return None


def compact_peers(values):
    """The ip:port strings of a get_peers answer's `values` (6-byte entries; others skipped)."""
    out = []
    for v in values if isinstance(values, list) else []:
        if isinstance(v, bytes) and len(v) == 6:
            out.append("%d.%d.%d.%d:%d" % (v[0], v[1], v[2], v[3], int.from_bytes(v[4:6], "big")))
    return out


def describe_packet(alert):
    """A dht-query event for a KRPC query in a dht_pkt_alert, a dht-values event for an incoming answer that carries
    peers, or None (other answers, errors, undecodable packets).
    The alert's message reads "<== ip:port [...]" (incoming) or "==> ip:port [...]" (outgoing)."""
    try:
        msg = lt.bdecode(bytes(alert.pkt_buf))
    except Exception:  # noqa: BLE001 - any undecodable packet is simply not reported
        return None
    if not isinstance(msg, dict):
        return None
    text = alert.message()
    direction = "in" if text.startswith("<==") else "out"
    parts = text.split()
    node = parts[1].strip("[]") if len(parts) > 1 else "?"
    if msg.get(b"y") == b"r" and direction == "in":
        body = msg.get(b"r") if isinstance(msg.get(b"r"), dict) else {}
        peers = compact_peers(body.get(b"values"))
        return {"event": "dht-values", "node": node, "peers": peers} if peers else None
    if msg.get(b"y") != b"q" or msg.get(b"q") not in REPORTED_QUERIES:
        return None
    body = msg.get(b"a") if isinstance(msg.get(b"a"), dict) else {}
    return {"event": "dht-query", "dir": direction, "q": msg[b"q"].decode(), "node": node,
            "infoHash": hex_of(body.get(b"info_hash"))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["node", "seed", "download"], required=True)
    ap.add_argument("--torrent", help="seed: the .torrent")
    ap.add_argument("--magnet", help="download: the magnet link")
    ap.add_argument("--save", help="seed, download: the folder that holds the torrent's file or folder")
    ap.add_argument("--interface", default="127.0.0.1", help="the address to listen on (TCP, uTP and the DHT)")
    ap.add_argument("--port", type=int, default=0, help="TCP/UDP port, 0 = any free port")
    ap.add_argument("--bootstrap", type=parse_node, action="append", default=[],
                    help="HOST:PORT of a DHT node to bootstrap from (repeat); none = this node is the first")
    ap.add_argument("--timeout", type=float, default=None, help="seconds; download default 120, else none")
    ap.add_argument("--announce-every", type=float, default=5.0,
                    help="seconds between forced DHT announces (seed: always; download: while no peer)")
    ap.add_argument("--keep-seeding", action="store_true", help="download: keep running after 'complete'")
    ap.add_argument("--plain", action="store_true", help="TCP only and no encryption (default: libtorrent's stock)")
    ap.add_argument("--no-queries", action="store_true", help="do not print dht-query and dht-values events")
    ap.add_argument("--progress-interval", type=float, default=1.0)
    args = ap.parse_args()
    if args.mode == "seed" and not (args.torrent and args.save):
        ap.error("--mode seed needs --torrent and --save")
    if args.mode == "download" and not (args.magnet and args.save):
        ap.error("--mode download needs --magnet and --save")

    timeout = args.timeout if args.timeout is not None else (120.0 if args.mode == "download" else 0.0)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    atp = None
    if args.mode == "seed":
        try:
            info = lt.torrent_info(args.torrent)
        except RuntimeError as e:
            emit({"event": "error", "code": "BAD_TORRENT", "message": str(e)})
            return 2
        atp = lt.add_torrent_params()
        atp.ti = info
    elif args.mode == "download":
        try:
            atp = lt.parse_magnet_uri(args.magnet)
        except RuntimeError as e:
            emit({"event": "error", "code": "BAD_MAGNET", "message": str(e)})
            return 2
        atp.trackers = []
        atp.url_seeds = []
    if atp is not None:
        os.makedirs(args.save, exist_ok=True)
        atp.save_path = os.path.abspath(args.save)
        atp.flags = lt.torrent_flags.paused | lt.torrent_flags.disable_lsd  # resumed once trackers are gone

    start = time.monotonic()
    ses = lt.session(make_settings(args))

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

    handle = None
    info_hash = None
    added_at = None
    if atp is not None:
        handle = ses.add_torrent(atp)
        handle.replace_trackers([])
        for url in list(handle.url_seeds()):
            handle.remove_url_seed(url)
        handle.resume()
        added_at = time.monotonic()
        hashes = atp.ti.info_hashes() if atp.ti is not None else atp.info_hashes
        info_hash = str(hashes.v1) if hashes.has_v1() else str(hashes.v2)[:40]
        name = atp.ti.name() if atp.ti is not None else (atp.name or None)
        emit({"event": "added", "infoHash": info_hash, "name": name})
    if args.mode != "seed":
        emit({"event": "listening", "port": port})

    checked_emitted = False
    listening_emitted = args.mode != "seed"
    metadata_elapsed = None
    completed = False
    dht_counts = None
    dht_nodes = 0
    last_stats = 0.0
    last_progress = 0.0
    last_announce = None
    peers_seen = set()
    exit_code = 0

    def announce(reason):
        nonlocal last_announce
        last_announce = time.monotonic()
        handle.force_dht_announce()
        emit({"event": "dht-announce", "reason": reason})

    while not STOP["requested"]:
        now = time.monotonic()
        if timeout > 0 and now - start > timeout:
            detail = ""
            if handle is not None:
                st = handle.status()
                detail = " (have %d pieces, %d peers)" % (st.num_pieces, st.num_peers)
            emit({"event": "error", "code": "TIMEOUT",
                  "message": "not done after %.1f s%s, %d DHT nodes" % (timeout, detail, dht_nodes)})
            exit_code = 3
            break

        for a in ses.pop_alerts():
            if isinstance(a, lt.session_stats_alert):
                values = a.values
                counts = (int(values.get("dht.dht_nodes", 0)), int(values.get("dht.dht_torrents", 0)),
                          int(values.get("dht.dht_peers", 0)))
                if counts != dht_counts:
                    dht_counts = counts
                    dht_nodes = counts[0]
                    emit({"event": "dht", "nodes": counts[0], "torrents": counts[1], "peers": counts[2]})
            elif isinstance(a, lt.dht_pkt_alert):
                if not args.no_queries:
                    event = describe_packet(a)
                    if event is not None:
                        emit(event)
            elif isinstance(a, lt.dht_bootstrap_alert):
                emit({"event": "dht-bootstrap"})
            elif isinstance(a, lt.dht_log_alert) and "BANNING" in a.log_message().upper():
                emit({"event": "dht-blocked", "message": a.log_message()})
            elif isinstance(a, lt.dht_reply_alert):
                emit({"event": "dht-reply", "peers": a.num_peers})
            elif isinstance(a, lt.dht_announce_alert):
                emit({"event": "dht-stored", "infoHash": str(a.info_hash), "peer": "%s:%d" % (a.ip, a.port)})
            elif isinstance(a, lt.metadata_received_alert):
                metadata_elapsed = round(time.monotonic() - added_at, 3)
                emit({"event": "metadata", "elapsed": metadata_elapsed})
            elif isinstance(a, (lt.torrent_error_alert, lt.file_error_alert, lt.listen_failed_alert)):
                emit({"event": "error", "code": type(a).__name__, "message": a.message()})
            elif isinstance(a, lt.hash_failed_alert):
                emit({"event": "hash-failed", "piece": a.piece_index})

        if now - last_stats >= 0.25:
            last_stats = now
            ses.post_session_stats()

        if handle is not None:
            st = handle.status()
            if not checked_emitted and st.state in DONE_CHECKING_STATES and st.has_metadata:
                checked_emitted = True
                emit({"event": "checked", "have": st.num_pieces, "pieces": handle.torrent_file().num_pieces()})
                if args.mode == "seed":
                    if not st.is_seeding:
                        emit({"event": "error", "code": "DATA_INCOMPLETE",
                              "message": "seed data check: have %d pieces, not all, in %s" % (st.num_pieces,
                                                                                           args.save)})
                        exit_code = 2
                        break
            if args.mode == "seed" and checked_emitted and not listening_emitted:
                listening_emitted = True
                emit({"event": "listening", "port": port})

            # Announce: once the DHT has a node to ask, then on the interval (a downloader only while it has no peer).
            ready = args.mode == "download" or checked_emitted
            if ready and dht_nodes > 0:
                if last_announce is None:
                    announce("first-node")
                elif (args.announce_every > 0 and now - last_announce >= args.announce_every
                      and (args.mode == "seed" or st.num_peers == 0) and not completed):
                    announce("interval")

            # Every peer once, with where libtorrent learned it (each turn of the loop: a loopback download can be
            # over within 0.1 s).
            for p in handle.get_peer_info():
                peer = endpoint_text(p.ip)
                flags = int(p.flags)
                if peer in peers_seen or flags & IN_HANDSHAKE:
                    continue
                peers_seen.add(peer)
                enc = "rc4" if flags & int(lt.peer_info.rc4_encrypted) else (
                    "plaintext-mse" if flags & int(lt.peer_info.plaintext_encrypted) else "none")
                emit({"event": "peer-info", "peer": peer, "client": client_text(p.client),
                      "source": [n for bit, n in SOURCE_BITS if int(p.source) & bit],
                      "transport": "utp" if flags & UTP_SOCKET else "tcp", "encryption": enc,
                      "outgoing": bool(flags & int(lt.peer_info.local_connection))})

            if now - last_progress >= args.progress_interval:
                last_progress = now
                emit({"event": "progress", "have": st.num_pieces,
                      "pieces": handle.torrent_file().num_pieces() if st.has_metadata else -1,
                      "downloaded": st.total_payload_download, "uploaded": st.total_payload_upload,
                      "peers": st.num_peers, "state": str(st.state)})

            if args.mode == "download" and not completed and st.has_metadata and st.is_seeding:
                completed = True
                emit({"event": "complete", "elapsed": round(time.monotonic() - added_at, 3),
                      "metadataElapsed": metadata_elapsed})
                if not args.keep_seeding:
                    break
        time.sleep(0.02)

    if handle is not None:
        st = handle.status()
        emit({"event": "progress", "have": st.num_pieces,
              "pieces": handle.torrent_file().num_pieces() if st.has_metadata else -1,
              "downloaded": st.total_payload_download, "uploaded": st.total_payload_upload,
              "peers": st.num_peers, "state": str(st.state)})
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
