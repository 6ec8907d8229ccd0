"""Build a deterministic synthetic corpus of API v2 studies from the real records, for scale tests.

Every synthetic study is labelled: its NCT id is in the NCT9xxxxxxx range no registry id
uses yet, it carries the keyword ``synthetic-corpus`` and a top-level ``"synthetic": true``.
Each one is a real v2 record with its conditions (and their MeSH terms), interventions,
sites and dates taken from other real records, chosen by a seeded generator, so the
corpus has the registry's shapes and vocabulary without copying one trial n times.

    python bench/synth.py --n 100000 --out /tmp/trialscope-bench/synth100k.jsonl
    python bench/synth.py --n 100000 --out /tmp/trialscope-bench/synth100k.zip   # bulk-zip layout

The same --n and --seed always give the same bytes.
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import orjson

from trialscope.ctgov.fields import iter_v2_studies

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "ctgov" / "v2_json"


def load_real_studies(source: Path = DEFAULT_SOURCE) -> list[dict]:
    """Every real API v2 study under ``source``, in a stable order, one per NCT id."""
    studies: dict[str, dict] = {}
    for item in iter_v2_studies(source):
        nct = item["protocolSection"].get("identificationModule", {}).get("nctId")
        if nct:
            studies.setdefault(nct, item)
    return [studies[k] for k in sorted(studies)]


def _shift_year(date: str, years: int) -> str:
    try:
        year = int(date[:4]) + years
    except ValueError:
        return date
    return f"{min(max(year, 1990), 2030):04d}{date[4:]}"


def synthesize(real: list[dict], n: int, seed: int = 20261125) -> Iterator[dict]:
    """``n`` synthetic studies mixed from the ``real`` ones, deterministically."""
    rng = random.Random(seed)
    for i in range(n):
        base = copy.deepcopy(real[i % len(real)])
        donor_c = real[rng.randrange(len(real))]
        donor_i = real[rng.randrange(len(real))]
        donor_l = real[rng.randrange(len(real))]
        p = base["protocolSection"]
        ident = p.setdefault("identificationModule", {})
        ident["nctId"] = f"NCT9{i:07d}"
        ident["orgStudyIdInfo"] = {"id": f"SYNTH-{i:07d}"}
        cond = copy.deepcopy(donor_c["protocolSection"].get("conditionsModule", {}))
        cond["keywords"] = [*cond.get("keywords", [])[:5], "synthetic-corpus"]
        p["conditionsModule"] = cond
        derived = base.setdefault("derivedSection", {})
        for key in ("conditionBrowseModule",):
            if key in donor_c.get("derivedSection", {}):
                derived[key] = copy.deepcopy(donor_c["derivedSection"][key])
            else:
                derived.pop(key, None)
        if "armsInterventionsModule" in donor_i["protocolSection"]:
            p["armsInterventionsModule"] = copy.deepcopy(
                donor_i["protocolSection"]["armsInterventionsModule"]
            )
            if "interventionBrowseModule" in donor_i.get("derivedSection", {}):
                derived["interventionBrowseModule"] = copy.deepcopy(
                    donor_i["derivedSection"]["interventionBrowseModule"]
                )
        if "contactsLocationsModule" in donor_l["protocolSection"]:
            p["contactsLocationsModule"] = copy.deepcopy(
                donor_l["protocolSection"]["contactsLocationsModule"]
            )
        shift = rng.randint(-6, 4)
        status = p.setdefault("statusModule", {})
        for key, value in list(status.items()):
            if isinstance(value, dict) and "date" in value:
                value["date"] = _shift_year(value["date"], shift)
        title = ident.get("briefTitle") or ""
        ident["briefTitle"] = title
        base["synthetic"] = True
        yield base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of synthetic studies")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--out", required=True, help="output .jsonl, or .zip (one JSON file per study)")
    parser.add_argument("--source", default=str(DEFAULT_SOURCE), help="folder of real API v2 records")
    args = parser.parse_args(argv)
    real = load_real_studies(Path(args.source))
    if not real:
        print(f"no API v2 records under {args.source}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    studies = synthesize(real, args.n, args.seed)
    if out.suffix == ".zip":
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for study in studies:
                nct = study["protocolSection"]["identificationModule"]["nctId"]
                archive.writestr(f"ctg-studies/{nct[:7]}xxxx/{nct}.json", orjson.dumps(study))
    else:
        with open(out, "wb") as stream:
            for study in studies:
                stream.write(orjson.dumps(study) + b"\n")
    print(f"wrote {args.n:,} synthetic studies (from {len(real):,} real ones) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
