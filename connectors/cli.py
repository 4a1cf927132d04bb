"""`python -m connectors run ...` prints a connector's JSON result; `python -m connectors eval` prints scores."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def _progress_printer(enabled: bool):
    def report(fraction: float, stage: str) -> None:
        if enabled:
            filled = int(fraction * 20)
            print(
                f"\r[{'#' * filled}{'.' * (20 - filled)}] {fraction:4.0%} {stage[:50]:<50}",
                end="",
                file=sys.stderr,
            )
            if fraction >= 1.0:
                print(file=sys.stderr)

    return report


def _client_for(mode: str):
    if mode != "model":
        return None
    from inference.client import InferenceClient

    return InferenceClient.from_env()


def _read_playbook(path: str | None) -> list | None:
    if path is None:
        return None
    from connectors.loaders import read_text_file

    try:
        return json.loads(read_text_file(Path(path)))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: playbook is not JSON: {error.msg}") from error


def command_run(args: argparse.Namespace) -> int:
    from connectors import run_connector
    from connectors.loaders import load_claims, load_corpus, load_document

    options: dict = {}
    if args.connector == "literature":
        if not args.corpus or not args.claims:
            raise ValueError("literature needs --corpus CORPUS.jsonl and --claims CLAIMS.jsonl")
        documents = load_corpus(Path(args.corpus))
        options["claims"] = load_claims(Path(args.claims))
    else:
        if not args.files:
            raise ValueError(f"{args.connector} needs a FILE")
        documents = [load_document(Path(name), connector=args.connector) for name in args.files]
        if args.connector == "legal":
            playbook = _read_playbook(args.playbook)
            if playbook is not None:
                options["playbook"] = playbook
    result = run_connector(
        args.connector,
        documents,
        options=options,
        mode=args.mode,
        client=_client_for(args.mode),
        progress=_progress_printer(not args.quiet),
    )
    json.dump(result, sys.stdout, indent=2 if args.pretty else None, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def command_eval(args: argparse.Namespace) -> int:
    from connectors.evaluation import evaluate_earnings, evaluate_legal, evaluate_literature, format_table

    evaluators = {"legal": evaluate_legal, "earnings": evaluate_earnings, "literature": evaluate_literature}
    chosen = args.only or list(evaluators)
    splits = ["dev", "heldout"] if args.split == "both" else [args.split]
    rows = []
    for name in chosen:
        for split in splits:
            started = time.perf_counter()
            metrics = evaluators[name](
                Path(args.data),
                split,
                lambda stage: print(stage, file=sys.stderr) if not args.quiet else None,
            )
            metrics["seconds"] = round(time.perf_counter() - started, 1)
            rows.append((name, split, metrics))
    print(format_table(rows))
    return 0


def command_train(args: argparse.Namespace) -> int:
    import importlib

    from connectors.rules_probe import PROBE_FILE, probe_record

    training = importlib.import_module(f"connectors.{args.vertical}.training")
    out = Path(args.out) if args.out else None
    report = training.train(
        data=Path(args.data),
        out=out,
        progress=lambda stage: print(stage, file=sys.stderr) if not args.quiet else None,
    )
    try:
        probe_record(args.vertical, out)
    except FileNotFoundError as error:
        print(f"warning: no {PROBE_FILE} beside the weights: {error}", file=sys.stderr)
    print(json.dumps(report, indent=2))
    return 0


def command_probe(args: argparse.Namespace) -> int:
    from connectors.rules_probe import VERTICALS, probe_record, recorded_probe, rules_probe

    unknown = sorted(set(args.vertical) - set(VERTICALS))
    if unknown:
        raise ValueError(f"no vertical {', '.join(unknown)}: choose from {', '.join(VERTICALS)}")
    stale = 0
    for vertical in args.vertical or VERTICALS:
        if args.record:
            print(f"{vertical}: recorded {probe_record(vertical)[:12]} beside the shipped weights")
            continue
        recorded, current = recorded_probe(vertical), rules_probe(vertical)
        if recorded == current:
            print(f"{vertical}: today's rules are those recorded beside the weights ({current[:12]})")
        else:
            stale += 1
            then = f"{recorded[:12]} then" if recorded else "no record then"
            print(
                f"{vertical}: the rules changed since the weights were made ({then}, {current[:12]} now): "
                "retrain (docs/training.md), or keep the weights on purpose with --record"
            )
    return 1 if stale else 0


def command_prepare(args: argparse.Namespace) -> int:
    from connectors.legal.cuad_data import prepare

    report = prepare(cuad=Path(args.cuad), out=Path(args.out))
    print(json.dumps(report, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m connectors", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a connector and print its JSON result")
    run.add_argument("connector", choices=["legal", "earnings", "literature"])
    run.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="contract (.txt) or transcript (.txt or .json); several earnings calls are also compared",
    )
    run.add_argument("--corpus", help="literature: corpus JSONL {doc_id, title, abstract}")
    run.add_argument("--claims", help="literature: claims JSONL {claim_id, claim | question}")
    run.add_argument("--playbook", help="legal: JSON file with a list of playbook rules")
    run.add_argument("--mode", choices=["analyzers", "model"], default="analyzers")
    run.add_argument("--pretty", action="store_true", help="indent the JSON")
    run.add_argument("--quiet", action="store_true", help="no progress on stderr")
    run.set_defaults(handler=command_run)
    evaluate = commands.add_parser("eval", help="score the connectors on labelled data and print a table")
    evaluate.add_argument("--data", default=str(DEFAULT_DATA), help="folder with cuad/, ectsum/, scifact/")
    evaluate.add_argument("--split", choices=["dev", "heldout", "all", "both"], default="both")
    evaluate.add_argument("--only", action="append", choices=["legal", "earnings", "literature"])
    evaluate.add_argument("--quiet", action="store_true")
    evaluate.set_defaults(handler=command_eval)
    train = commands.add_parser(
        "train",
        help="rebuild a vertical's shipped weights from its public training split (see docs/training.md)",
    )
    train.add_argument("vertical", choices=["legal", "earnings", "literature"])
    train.add_argument("--data", required=True, help="folder with the data set's training split")
    train.add_argument("--out", help="write the weights here instead of over the shipped ones")
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(handler=command_train)
    probe = commands.add_parser(
        "probe",
        help="whether the shipped weights were made on today's rules (connectors/rules_probe.py)",
    )
    probe.add_argument("vertical", nargs="*", help="legal, earnings or literature (all three by default)")
    probe.add_argument(
        "--record", action="store_true", help="record today's rules beside the shipped weights"
    )
    probe.set_defaults(handler=command_probe)
    prepare = commands.add_parser(
        "prepare",
        help="build a vertical's training DIR from its data set's release (see docs/training.md)",
    )
    prepare.add_argument("vertical", choices=["legal"])
    prepare.add_argument("--cuad", required=True, help="legal: the CUAD v1 release folder (CUAD_DIR)")
    prepare.add_argument("--out", required=True, help="the training DIR to write (DIR/cuad/...)")
    prepare.set_defaults(handler=command_prepare)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command == "run" and not any(item.startswith("-") for item in extra):
        args.files = [*args.files, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.handler(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
