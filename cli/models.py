"""`ibc models`: the installed models."""
import json


def run(args) -> int:
    """Every installed model, shipped and the user's, with its origin, rates and measured figures."""
    from ..codec.tune import TUNES
    from ..codec.weights import WEIGHTS_DIR, entries, user_dir

    rows = []
    for folder, e in entries():
        figures = e.get("measured", {})
        kodak = next(iter(figures.items()), None)
        pf = e.get("training", {}).get("postfilter", {}).get("validation", {}).get("by_step")
        rows.append({"name": e["name"], "mode": e.get("mode"), "origin": "shipped" if folder == WEIGHTS_DIR else str(folder),
                     "rates": e.get("quality", ""),
                     "measured": (f"{kodak[0]}: {len(kodak[1])} settings" if kodak else
                                  f"post-filter +{max(d['gain'] for d in pf.values()):.2f} dB on validation" if pf else ""),
                     "tunes": ["psnr"] + [t + (" (with its post-filter)" if "filter" in e["tune"] else "")
                                          for t in e.get("tune", {}) if t in TUNES],
                     "sha256": e["sha256"][:16]})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"user model directory: {user_dir()} (IBC_MODEL_PATH sets it)")
    for r in rows:
        tunes = f"; tunes {', '.join(r['tunes'])}" if len(r["tunes"]) > 1 else ""
        print(f"{r['name']:16s} {r['mode'] or '':8s} {r['origin']:8s} {r['rates']}" + (f"; {r['measured']}" if r["measured"] else "")
              + tunes)
    return 0


def add_parser(sub) -> None:
    m = sub.add_parser("models", help="list the installed models", description=(
        "List the shipped models and the user's (from `ibc train`, in the user model directory), with their "
        "origin, rate range and measured figures."))
    m.add_argument("--json", action="store_true", help="print JSON")
    m.set_defaults(run=run)
