"""``brainalign datasets list | info NAME | check NAME | fetch NAME``: dataset cards and local copies."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="list known datasets")
    info = sub.add_parser("info", help="source, licence, citation and files of one dataset")
    info.add_argument("name")
    info.add_argument("--json", action="store_true", help="print the registry entry as JSON")
    check = sub.add_parser("check", help="verify a local copy against the registered checksums")
    check.add_argument("name")
    check.add_argument("--path", default=None, help="dataset folder (default: data home, then shared copy)")
    fetch_p = sub.add_parser("fetch", help="download a dataset's registered files into the data home")
    fetch_p.add_argument("name")
    fetch_p.add_argument("-o", "--output", "--data-home", dest="output", default=None,
                         help="data home to download into (default: $BRAINALIGN_DATA or ~/brainalign_data)")
    fetch_p.add_argument("--timeout", type=float, default=5.0, help="seconds before giving up on a connection")


def _entry(info) -> dict:
    return {
        "name": info.name, "title": info.title, "landing_url": info.landing_url, "licence": info.licence,
        "citation": info.citation, "modality": info.modality, "tr": info.tr, "sfreq": info.sfreq,
        "folder": info.folder, "card": info.card, "notes": info.notes,
        "files": [{"path": f.path, "url": f.url, "sha256": f.sha256} for f in info.files],
    }


def _info(name: str):
    from ..core import BrainalignInputError
    from ..datasets import get_dataset_info

    try:
        return get_dataset_info(name)
    except KeyError as err:  # the registry names the known datasets in its message
        raise BrainalignInputError(str(err.args[0])) from None


def run(args: argparse.Namespace) -> int:
    from ..datasets import REGISTRY, check_dataset, fetch, find_dataset_dir, get_data_home

    out = sys.stdout
    if args.action == "list":
        for name in sorted(REGISTRY):
            info = REGISTRY[name]
            rate = f"TR {info.tr} s" if info.tr else (f"{info.sfreq:g} Hz" if info.sfreq else "-")
            out.write(f"{name:<20} {info.modality:<10} {rate:<12} {info.title}\n")
        out.write(f"\ndata home: {get_data_home()}\n")
        return 0
    info = _info(args.name)
    if args.action == "info":
        entry = _entry(info)
        if args.json:
            out.write(json.dumps(entry, indent=2) + "\n")
            return 0
        for key in ("title", "landing_url", "licence", "citation", "modality", "tr", "sfreq", "card", "notes"):
            if entry[key] not in (None, ""):
                out.write(f"{key:<12} {entry[key]}\n")
        out.write(f"{'local':<12} {get_data_home() / info.folder}\n")
        for f in info.files:
            out.write(f"  {f.path}  sha256={f.sha256 or '?'}  url={f.url or '(manual)'}\n")
        return 0
    if args.action == "check":
        root = find_dataset_dir(args.name, args.path)
        status = check_dataset(args.name, root)
        out.write(f"{args.name}: {root}\n")
        for path, state in status.items():
            out.write(f"  {state:<22} {path}\n")
        bad = [p for p, s in status.items() if s in ("missing", "sha256 mismatch")]
        return 1 if bad else 0
    root = fetch(args.name, args.output, timeout=args.timeout)
    out.write(f"{args.name}: {root}\n")
    return 0
