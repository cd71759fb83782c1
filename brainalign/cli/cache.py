"""``brainalign cache verify|clean DIR``: check and tidy a feature cache (a FeatureStore folder).

``verify`` reads every entry, compares each file with the size and SHA-256
recorded when it was written and prints one line per entry (``ok``,
``damaged: <what>``, ``partial`` for an interrupted extraction, ``writing``
while another process holds its lock); it exits with 1 when an entry is
damaged.  ``clean`` removes damaged entries, interrupted extractions,
leftovers of killed writers and the entries moved aside to ``DIR/.damaged/``;
``--dry-run`` only lists them.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = sub.add_parser("verify", help="check every entry's files against their recorded sizes and checksums; "
                                           "exit 1 if any entry is damaged")
    verify.add_argument("directory", help="feature cache folder (or one entry folder in it)")
    verify.add_argument("--quick", action="store_true",
                        help="check sizes and headers only, not the checksum of every byte")
    clean = sub.add_parser("clean", help="remove damaged entries, interrupted extractions and leftovers")
    clean.add_argument("directory", help="feature cache folder")
    clean.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    clean.add_argument("--quick", action="store_true",
                       help="find damaged entries by sizes and headers only, not by checksums")


def _store_and_keys(directory: str):
    from ..core import BrainalignInputError
    from ..features import FeatureStore

    path = Path(directory)
    if (path / "features.json").is_file():  # one entry folder
        return FeatureStore(path.parent), [path.name]
    if not path.is_dir():
        raise BrainalignInputError(f"Feature cache folder {path} does not exist.")
    store = FeatureStore(path)
    return store, store.all_keys()


def run(args: argparse.Namespace) -> int:
    store, keys = _store_and_keys(args.directory)
    if args.action == "verify":
        counts: Counter[str] = Counter()
        for key in keys:
            state, detail = store.status(key, checksum=not args.quick)
            counts[state] += 1
            print(f"{state:<8} {key}: {detail}" if detail else f"{state:<8} {key}")
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no entries"
        print(f"{store.root}: {summary}")
        return 1 if counts["damaged"] else 0
    actions = store.clean(dry_run=args.dry_run, checksum=not args.quick)
    verb = "would remove" if args.dry_run else "removed"
    for why, path in actions:
        print(f"{verb} {path} ({why})")
    print(f"{store.root}: {verb} {len(actions)} item(s)")
    return 0
