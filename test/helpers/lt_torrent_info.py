#!/usr/bin/python3
"""libtorrent's verdict on .torrent files, for bitpeer's metainfo differential test.

Usage: lt_torrent_info.py FILE...   (one process for all files; no network: DHT/LSD/UPnP/NAT-PMP off, no listen port)
Prints one JSON list, one object per FILE, in order:
  {"file":F, "verdict":"ok"|"error"|"add-error", "error":msg, "v1":hex|null, "v2":hex|null,
   "files":[[file_path(i), file_size(i)] for every non-pad file], "pads":[[offset, size]...], "numPieces":n,
   "totalSize":n, "name":s}
"ok" = torrent_info parsed it AND a session accepted it (add_torrent, paused, upload mode): libtorrent 2.0 checks
piece layers against their roots only when a torrent is added, so "add-error" is a refusal too.
"""
import json
import sys
import tempfile

import libtorrent as lt


def inspect(ses, save, path):
    r = {"file": path}
    try:
        with open(path, "rb") as f:
            ti = lt.torrent_info(f.read())
    except Exception as e:  # noqa: BLE001 - any parse failure is libtorrent's refusal
        r.update(verdict="error", error=str(e))
        return r
    ih = ti.info_hashes()
    fs = ti.files()

    def pad(i):
        return bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)

    r.update(
        verdict="ok",
        v1=str(ih.v1) if ih.has_v1() else None,
        v2=str(ih.v2) if ih.has_v2() else None,
        files=[[fs.file_path(i), fs.file_size(i)] for i in range(fs.num_files()) if not pad(i)],
        pads=[[fs.file_offset(i), fs.file_size(i)] for i in range(fs.num_files()) if pad(i)],
        numPieces=ti.num_pieces(),
        totalSize=fs.total_size(),
        name=ti.name(),
    )
    try:
        h = ses.add_torrent({"ti": ti, "save_path": save,
                             "flags": lt.torrent_flags.paused | lt.torrent_flags.upload_mode})
        ses.remove_torrent(h)
    except Exception as e:  # noqa: BLE001
        r.update(verdict="add-error", error=str(e))
    return r


def main():
    ses = lt.session({"enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                      "listen_interfaces": ""})
    with tempfile.TemporaryDirectory(prefix="bitpeer-lt-info-") as save:
        out = [inspect(ses, save, p) for p in sys.argv[1:]]
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
