"""The `foreshock` command line (spec/cli.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from foreshock import __version__
from foreshock.act.cli import act_app, actions_command
from foreshock.model import BlastRadius
from foreshock.topology import Topology, TopologyError, UnknownEntityError, load_topology

app = typer.Typer(
    name="foreshock",
    help="Reliability control plane for AI factories.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
topology_app = typer.Typer(help="Validate and inspect topology files.", no_args_is_help=True)
sim_app = typer.Typer(help="The AI-factory simulator.", no_args_is_help=True)
app.add_typer(topology_app, name="topology")
app.add_typer(sim_app, name="sim")
app.add_typer(act_app, name="act")
app.command("actions")(actions_command)

out = Console()
err = Console(stderr=True)
MAX_PROBLEMS = 50

TopologyFiles = Annotated[
    list[Path], typer.Option("--topology", "-t", help="Topology file (repeat to merge several).")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _version(value: bool) -> None:
    if value:
        out.print(f"foreshock {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Reliability control plane for AI factories."""


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _load(paths: list[Path]) -> Topology:
    try:
        return load_topology(paths)
    except TopologyError as exc:
        _print_problems(exc)
        raise typer.Exit(1) from None


def _print_problems(exc: TopologyError) -> None:
    for p in exc.problems[:MAX_PROBLEMS]:
        err.print(f"[red]✗[/] {p}", highlight=False, soft_wrap=True)
    if len(exc.problems) > MAX_PROBLEMS:
        err.print(f"... and {len(exc.problems) - MAX_PROBLEMS} more problems")


def _entity_or_fail(topo: Topology, entity_id: str) -> None:
    if entity_id not in topo:
        near = [e for e in topo.ids_at(range(len(topo))) if entity_id in e][:5]
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        _fail(f"unknown entity {entity_id!r}{hint}")


# --- topology ---------------------------------------------------------------------------------


@topology_app.command("validate")
def topology_validate(
    files: Annotated[list[Path], typer.Argument(help="Topology files, merged as one fleet.")],
) -> None:
    """Check topology files; print every problem with its file, line and id."""
    topo = _load(files)
    relations = sum(topo.relation_counts().values())
    names = ", ".join(str(f) for f in files)
    out.print(f"[green]✓[/] {names}: {len(topo):,} entities, {relations:,} relations")


@topology_app.command("show")
def topology_show(
    files: Annotated[list[Path], typer.Argument(help="Topology files, merged as one fleet.")],
    entity: Annotated[
        str | None, typer.Option("--entity", "-e", help="Show one entity and its neighbours.")
    ] = None,
) -> None:
    """Summarise a fleet by kind, or show one entity with its neighbours."""
    topo = _load(files)
    if entity is None:
        _show_summary(topo)
    else:
        _entity_or_fail(topo, entity)
        _show_entity(topo, entity)


def _show_summary(topo: Topology) -> None:
    kinds = Table(title=f"{len(topo):,} entities", title_justify="left")
    kinds.add_column("kind")
    kinds.add_column("count", justify="right")
    for kind, n in sorted(topo.kind_counts().items(), key=lambda kv: (-kv[1], kv[0])):
        kinds.add_row(kind, f"{n:,}")
    rels = Table(title=f"{sum(topo.relation_counts().values()):,} relations", title_justify="left")
    rels.add_column("type")
    rels.add_column("count", justify="right")
    rels.add_column("how a fault travels")
    for rtype, n in sorted(topo.relation_counts().items(), key=lambda kv: (-kv[1], kv[0])):
        rels.add_row(rtype, f"{n:,}", topo.relation_types[rtype].help)
    out.print(kinds)
    out.print(rels)


def _show_entity(topo: Topology, entity_id: str) -> None:
    e = topo.entity(entity_id)
    out.print(f"[bold]{e.id}[/]  kind={e.kind}", highlight=False)
    for k, v in e.labels.items():
        out.print(f"  {k}={v}", highlight=False)
    table = Table(show_header=True)
    table.add_column("direction")
    table.add_column("relation")
    table.add_column("entity")
    table.add_column("kind")
    for direction, r in topo.neighbours(entity_id):
        other = r.source if direction == "in" else r.target
        arrow = "← depends on" if direction == "in" else "→ reaches"
        table.add_row(arrow, r.type, other, topo.kind_of(other))
    out.print(table)
    br = topo.blast_radius(entity_id)
    out.print(
        f"a fault here reaches {br.entities - 1:,} entities, {br.gpus:,} GPUs and "
        f"{len(br.jobs):,} jobs",
        highlight=False,
    )


# --- blast ------------------------------------------------------------------------------------


@app.command("blast")
def blast(
    topology: TopologyFiles,
    entity: Annotated[str, typer.Option("--entity", "-e", help="The entity that fails.")],
    as_json: JsonFlag = False,
) -> None:
    """What a fault of ENTITY reaches along propagation relations."""
    topo = _load(topology)
    _entity_or_fail(topo, entity)
    br = topo.blast_radius(entity)
    if as_json:
        sys.stdout.write(json.dumps(br.to_json()) + "\n")
        return
    _print_blast(br)


def _print_blast(br: BlastRadius) -> None:
    out.print(f"[bold]blast radius of {br.entity}[/]", highlight=False)
    out.print(f"  entities reached       {br.entities:,}")
    out.print(f"  GPUs reached           {br.gpus:,}")
    out.print(f"  GPU-hours at risk / h  {br.gpu_hours_at_risk_per_hour:,.0f}")
    shown = ", ".join(br.jobs[:10]) + (
        f" … and {len(br.jobs) - 10} more" if len(br.jobs) > 10 else ""
    )
    out.print(f"  jobs ({len(br.jobs):,})  {shown or '-'}", highlight=False)
    table = Table("kind", "reached")
    for kind, n in br.by_kind:
        table.add_row(kind, f"{n:,}")
    out.print(table)


# --- detect ---------------------------------------------------------------------------------


@app.command("detect")
def detect(
    topology: TopologyFiles,
    telemetry: Annotated[
        list[Path], typer.Option("--telemetry", help="Telemetry file (repeat for several).")
    ],
    events: Annotated[
        list[Path] | None, typer.Option("--events", help="Kernel log with XID/SXID lines.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the detectors over the files as if the samples were arriving live; print every
    anomaly and prediction in the order raised."""
    from foreshock.detect.run import detect_files
    from foreshock.ingest.files import TelemetryFileError

    topo = _load(topology)
    try:
        found = detect_files(topo, telemetry, events or [])
    except (TelemetryFileError, OSError) as exc:
        _fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps({"findings": [f.to_json() for f in found]}) + "\n")
        return
    table = Table("raised at", "kind", "entity", "metric", "score", "predicts", "detector")
    table.columns[0].no_wrap = True
    for column in table.columns[2:]:
        column.overflow = "fold"
    for f in found:
        j = f.to_json()
        table.add_row(
            j["raised_at"],
            f.kind,
            f.entity or "-",
            f.metric,
            f"{f.score:.2f}",
            f.predicts or "",
            f.detector,
        )
    out.print(table)
    out.print(f"{len(found)} findings")


# --- rca ------------------------------------------------------------------------------------


@app.command("rca")
def rca(
    topology: TopologyFiles,
    telemetry: Annotated[
        list[Path] | None, typer.Option("--telemetry", help="Telemetry file (repeat for several).")
    ] = None,
    alerts: Annotated[Path | None, typer.Option("--alerts", help="Alerts file (JSON).")] = None,
    events: Annotated[
        list[Path] | None, typer.Option("--events", help="Kernel log with XID/SXID lines.")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="Incident time (default: the earliest firing alert).")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="How many causes.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Diagnose the incident the alerts (or, without alerts, the strongest anomalies) describe."""
    from foreshock.diagnose.rank import rank_causes
    from foreshock.diagnose.symptoms import (
        from_alerts,
        from_findings,
        in_window,
        observable_kinds,
        precursors,
    )
    from foreshock.ingest.alertmanager import AlertPayloadError, parse_any
    from foreshock.sim.timefmt import parse_time, rfc3339

    topo = _load(topology)
    findings, mapper = _detect(topo, telemetry or [], events or [])
    found_alerts = []
    if alerts is not None:
        try:
            found_alerts = parse_any(json.loads(alerts.read_text(encoding="utf-8")), mapper)
        except (OSError, ValueError, AlertPayloadError) as exc:
            _fail(f"{alerts}: {exc}")
    if at is not None:
        start = parse_time(at)
    elif found_alerts:
        firing = [a.starts_at for a in found_alerts if a.status == "firing"]
        start = min(firing or [a.starts_at for a in found_alerts])
    elif findings:
        start = min(f.raised_at for f in findings)
    else:
        _fail("nothing to diagnose: give --alerts, --telemetry or --events")
    window = in_window(found_alerts, start - 60, start + 900)
    symptoms = from_alerts(topo, window)
    symptoms += from_findings(f for f in findings if start - 60 <= f.raised_at < start + 900)
    symptoms += precursors(findings, start - 60)
    seen = [a.entity for a in found_alerts] + [f.entity for f in findings]
    causes = rank_causes(topo, symptoms, observable_kinds(topo, seen), top=top, start=start - 60)
    blast = topo.blast_radius(causes[0].entity).to_json() if causes else None
    entities = len({s.entity for s in symptoms})
    doc: dict[str, Any] = {
        "incident": {"start": rfc3339(start), "alerts": len(window), "entities": entities},
        "root_causes": [
            {
                "entity": c.entity,
                "metric": c.metric,
                "score": round(c.score, 4),
                "evidence": list(c.evidence),
            }
            for c in causes
        ],
        "blast_radius": {k: v for k, v in (blast or {}).items() if k != "entity"},
    }
    if as_json:
        sys.stdout.write(json.dumps(doc) + "\n")
        return
    out.print(
        f"incident at {rfc3339(start)}: {len(window)} alerts on {entities} entities",
        highlight=False,
    )
    for n, c in enumerate(causes, 1):
        out.print(f"{n}. {c.entity} ({c.kind}) score {c.score:.2f}", highlight=False)
        for ev in c.evidence:
            out.print(f"     {ev}", highlight=False)
    if blast:
        out.print(
            f"blast radius of {causes[0].entity}: {blast['entities']:,} entities, "
            f"{blast['gpus']:,} GPUs, {len(blast['jobs'])} jobs",
            highlight=False,
        )


def _detect(topo: Topology, telemetry: list[Path], events: list[Path]) -> tuple[list[Any], Any]:
    """Findings over the files, and an alert mapper that knows the PCI addresses the
    telemetry taught it (an XID alert of a host names one of its GPUs)."""
    from foreshock.detect.run import default_bank, detect_files
    from foreshock.ingest.events import EventResolver
    from foreshock.ingest.series import SeriesTable

    table = SeriesTable(topo)
    findings = []
    if telemetry or events:
        try:
            findings = detect_files(topo, telemetry, events, default_bank(table))
        except (OSError, ValueError) as exc:
            _fail(str(exc))
    return findings, EventResolver(topo, table).alert_mapper()


@app.command("incidents")
def incidents(
    topology: TopologyFiles,
    alerts: Annotated[Path, typer.Option("--alerts", help="Alerts file (JSON).")],
    telemetry: Annotated[
        list[Path] | None, typer.Option("--telemetry", help="Telemetry file (repeat for several).")
    ] = None,
    events: Annotated[
        list[Path] | None, typer.Option("--events", help="Kernel log with XID/SXID lines.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Correlate every alert (and, with telemetry, every anomaly) into incidents, each
    diagnosed."""
    from foreshock.correlate import correlate
    from foreshock.ingest.alertmanager import AlertPayloadError, parse_any
    from foreshock.sim.timefmt import rfc3339

    topo = _load(topology)
    findings, mapper = _detect(topo, telemetry or [], events or [])
    try:
        found = parse_any(json.loads(alerts.read_text(encoding="utf-8")), mapper)
    except (OSError, ValueError, AlertPayloadError) as exc:
        _fail(f"{alerts}: {exc}")
    anomalies = [f for f in findings if f.kind in ("anomaly", "prediction")]
    result = correlate(topo, found, anomalies)
    if as_json:
        doc = {
            "alerts": len({a.fingerprint for a in found}),
            "incidents": [inc.to_json() for inc in result],
        }
        sys.stdout.write(json.dumps(doc) + "\n")
        return
    table = Table(
        title=f"{len(result)} incidents from {len({a.fingerprint for a in found})} alerts"
    )
    for col in ("id", "start", "alerts", "suppressed", "root cause", "score", "GPUs", "status"):
        table.add_column(col)
    for inc in result:
        top_cause = inc.root_causes[0] if inc.root_causes else None
        table.add_row(
            inc.id,
            rfc3339(inc.start),
            str(len(inc.alerts)),
            str(len(inc.suppressed)),
            top_cause.entity if top_cause else "-",
            f"{top_cause.score:.2f}" if top_cause else "-",
            str(inc.blast_radius.gpus) if inc.blast_radius else "0",
            inc.status,
        )
    out.print(table)


# --- eval -----------------------------------------------------------------------------------

eval_app = typer.Typer(
    help="Score Foreshock on datasets and on the simulator.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")
# The workplace keeps the public datasets beside the project: <repo>/../shared/datasets.
DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def _dataset_path(name: str, path: Path | None) -> Path:
    import os

    if path is not None:
        return path
    root = Path(os.environ.get("FORESHOCK_DATASETS", DATASETS))
    return (root / name).resolve()


def _score_scenarios(
    evaluate: Callable[..., dict[str, Any]], path: Path, doing: str
) -> dict[str, Any]:
    """Figures over scenarios already generated at `path`, or a clear error for a bad folder."""
    if not path.exists():
        _fail(f"no scenarios at {path}")
    with _progress(transient=True) as progress:
        task = progress.add_task(doing, total=None)
        try:
            return evaluate(path, progress=lambda d, t: progress.update(task, completed=d, total=t))
        except KeyError as e:
            _fail(f"{path}: a truth.json lacks the field {e}")
        except (ValueError, OSError) as e:
            _fail(str(e))


@eval_app.command("rca")
def eval_rca(
    dataset: Annotated[str, typer.Option(help="sim, petshop or rcd-sockshop.")],
    path: Annotated[
        Path | None,
        typer.Option(
            help="The dataset's folder. sim: scenarios already generated (`foreshock sim "
            "generate` folders, or one), every fault of each diagnosed at its onset."
        ),
    ] = None,
    split: Annotated[
        str, typer.Option(help="petshop: train, test or all (rcd-sockshop has no split).")
    ] = "all",
    seed: Annotated[int, typer.Option(help="sim: first seed of the scenarios.")] = 0,
    cases: Annotated[int, typer.Option(min=1, help="sim: scenarios, one fault each.")] = 36,
    as_json: JsonFlag = False,
) -> None:
    """Score root-cause ranking: AC@1, AC@3 and Avg@5, per group."""
    if dataset == "sim" and path is not None:
        from foreshock.eval.rca_sim import evaluate_rca_folder

        result = _score_scenarios(evaluate_rca_folder, path, "diagnosing")
    elif dataset == "sim":
        from foreshock.eval.rca_sim import evaluate_rca_sim

        with _progress(transient=True) as progress:
            task = progress.add_task("simulating and diagnosing", total=cases)
            result = evaluate_rca_sim(
                cases, seed, progress=lambda d, t: progress.update(task, completed=d, total=t)
            )
    elif dataset in ("petshop", "rcd-sockshop"):
        if split not in ("train", "test", "all"):
            _fail(f"unknown split {split!r}; choose train, test or all")
        folder = _dataset_path(dataset, path)
        if not folder.is_dir():
            _fail(f"no {dataset} dataset at {folder} (give --path or set FORESHOCK_DATASETS)")
        from foreshock.eval.rca_petshop import evaluate_petshop
        from foreshock.eval.rca_sockshop import evaluate_sockshop

        evaluate = evaluate_petshop if dataset == "petshop" else evaluate_sockshop
        with _progress(transient=True) as progress:
            task = progress.add_task(f"diagnosing {dataset}", total=None)
            result = evaluate(
                folder, split, lambda d, t: progress.update(task, completed=d, total=t)
            )
        if result.get("cases", 0) == 0:
            _fail(f"no {split} cases in {folder}")
    else:
        _fail(f"unknown dataset {dataset!r} for rca; choose sim, petshop or rcd-sockshop")
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    for key, value in result.items():
        out.print(f"{key:<10} {value}", highlight=False)


@eval_app.command("detect")
def eval_detect(
    dataset: Annotated[str, typer.Option(help="nab or sim.")],
    path: Annotated[
        Path | None,
        typer.Option(
            help="The dataset's folder. sim: scenarios already generated (`foreshock sim "
            "generate` folders, or one), scored instead of simulating new ones."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="sim: first seed of the scenarios.")] = 0,
    cases: Annotated[int, typer.Option(min=1, help="sim: faulty (and fault-free) cases.")] = 12,
    gpus: Annotated[int, typer.Option(min=8, help="sim: GPUs per fleet.")] = 256,
    hours: Annotated[float, typer.Option(min=1.0, help="sim: hours per scenario.")] = 4.0,
    kind: Annotated[str, typer.Option(help="sim: fleet shape, hgx or nvl72.")] = "hgx",
    mix: Annotated[
        str,
        typer.Option(
            help="sim: 'each' kind with precursors in turn, or the published 'fleet' mix."
        ),
    ] = "each",
    as_json: JsonFlag = False,
) -> None:
    """Score detection: NAB (all three profiles) or predictions on simulated fleets."""
    if dataset == "sim" and path is not None:
        from foreshock.eval.detect_sim import evaluate_folder

        result = _score_scenarios(evaluate_folder, path, "detecting")
    elif dataset == "sim":
        from foreshock.eval.detect_sim import evaluate_sim

        if kind not in ("hgx", "nvl72"):
            _fail(f"unknown fleet kind {kind!r}; choose hgx or nvl72")
        if mix not in ("each", "fleet"):
            _fail(f"unknown mix {mix!r}; choose each or fleet")
        with _progress(transient=True) as progress:
            task = progress.add_task("simulating and detecting", total=2 * cases)
            result = evaluate_sim(
                cases,
                seed,
                gpus,
                hours,
                progress=lambda d, t: progress.update(task, completed=d, total=t),
                fleet_kind=kind,
                mix=mix,
            )
    elif dataset == "nab":
        import importlib

        try:
            nab = importlib.import_module("foreshock.eval.detect_nab")
        except ImportError:
            _fail("the NAB evaluation is not available in this build")
        folder = _dataset_path("nab", path)
        if not folder.is_dir():
            _fail(f"no NAB dataset at {folder} (give --path or set FORESHOCK_DATASETS)")
        result = nab.evaluate_nab(folder)
    else:
        _fail(f"unknown dataset {dataset!r} for detect; choose nab or sim")
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    for key, value in result.items():
        out.print(f"{key:<32} {value}", highlight=False)


@eval_app.command("storms")
def eval_storms(
    dataset: Annotated[str, typer.Option(help="sim (the only one).")] = "sim",
    seed: Annotated[int, typer.Option(help="First seed of the scenarios.")] = 0,
    cases: Annotated[int, typer.Option(min=1, help="Scenarios of four hours each.")] = 8,
    gpus: Annotated[int, typer.Option(min=16, help="GPUs per fleet.")] = 512,
    faults: Annotated[int, typer.Option(min=1, help="Faults per scenario.")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Score correlation of alert storms: incidents against alerts, and incidents that hold
    two independent faults."""
    if dataset != "sim":
        _fail(f"unknown dataset {dataset!r} for storms; choose sim")
    from foreshock.eval.storms_sim import evaluate_storms_sim

    with _progress(transient=True) as progress:
        task = progress.add_task("simulating and correlating", total=cases)
        result = evaluate_storms_sim(
            cases,
            seed,
            gpus,
            faults,
            progress=lambda d, t: progress.update(task, completed=d, total=t),
        )
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    for key, value in result.items():
        out.print(f"{key:<10} {value}", highlight=False)


# --- serve --------------------------------------------------------------------------------


@app.command("serve")
def serve(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Settings file (YAML); see docs/settings.md."),
    ] = None,
    mint: Annotated[
        str | None,
        typer.Option(help="Mint a token with this role (viewer, ingest, operator, admin) first."),
    ] = None,
) -> None:
    """Run Foreshock as a service: the ingest receivers, health probes and /metrics."""
    import uvicorn

    from foreshock.api.app import create_app
    from foreshock.api.auth import mint_token
    from foreshock.api.settings import Settings, SettingsError

    try:
        settings = Settings.load(config)
    except (SettingsError, OSError) as exc:
        _fail(str(exc))
    if mint:
        if not settings.token_file:
            _fail("set token_file in the settings to mint a token")
        secret = mint_token(settings.token_file, f"{mint}-cli", mint)
        out.print(f"new {mint} token (shown once): {secret}", highlight=False)
    out.print(f"serving on http://{settings.host}:{settings.port}", highlight=False)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=5,
    )


@app.command("demo")
def demo(
    gpus: Annotated[int, typer.Option(min=8, help="GPUs in the simulated fleet.")] = 1024,
    duration: Annotated[
        float, typer.Option(min=0, help="Real seconds to run (0: until Ctrl-C).")
    ] = 0.0,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the UI and API.")] = 8080,
    kind: FleetKind = "hgx",
    speed: Annotated[
        float, typer.Option(min=0.1, help="Simulated seconds per real second.")
    ] = 10.0,
    seed: Annotated[int, typer.Option(help="Same seed, same fleet and faults.")] = 0,
) -> None:
    """The simulator live, feeding the real pipeline; the UI on localhost with a sign-in link;
    each new incident and its root cause printed here."""
    from foreshock.demo import Demo, DemoOptions

    options = DemoOptions(
        gpus=gpus, duration=duration, port=port, speed=speed, seed=seed, kind=kind
    )
    count = Demo(options, lambda line: out.print(line, highlight=False, soft_wrap=True)).run()
    out.print(f"{count} incidents", highlight=False)


# --- sim --------------------------------------------------------------------------------------


FleetKind = Annotated[str, typer.Option("--kind", help="Fleet shape: hgx or nvl72.")]


@sim_app.command("fleet")
def sim_fleet(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Topology file (.json or .yaml).")],
    gpus: Annotated[int, typer.Option(min=8, help="GPUs in the fleet.")] = 1024,
    kind: FleetKind = "hgx",
    seed: Annotated[int, typer.Option(help="Same seed, same fleet.")] = 0,
) -> None:
    """Write the topology of a simulated fleet: power, cooling, fabric and jobs."""
    from foreshock.sim import generate_fleet, write_topology

    entities, relations = generate_fleet(_shape(gpus, kind, seed))
    write_topology(out_file, entities, relations)
    out.print(f"wrote {out_file}: {len(entities):,} entities, {len(relations):,} relations")


def _shape(gpus: int, kind: str, seed: int) -> Any:
    from foreshock.sim import FleetShape

    try:
        return FleetShape(gpus=gpus, kind=kind, seed=seed)
    except ValueError as exc:
        _fail(str(exc))


@sim_app.command("faults")
def sim_faults(as_json: JsonFlag = False) -> None:
    """List the fault kinds the simulator can inject, with a line on each."""
    from foreshock.sim.faults import FAULTS

    rows: list[dict[str, Any]] = [
        {
            "kind": f.name,
            "root": list(f.root_kinds),
            "summary": f.summary,
            "predicts": f.predicts,
            "precursor_probability": f.precursor_probability,
            "weight": f.weight,
            "source": f.source,
        }
        for f in FAULTS.values()
    ]
    if as_json:
        sys.stdout.write(json.dumps({"faults": rows}) + "\n")
        return
    table = Table("kind", "root", "what happens", "predicts")
    for f in FAULTS.values():
        table.add_row(f.name, ", ".join(f.root_kinds), f.summary, f.predicts or "-")
    out.print(table)


@sim_app.command("generate")
def sim_generate(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the files.")],
    gpus: Annotated[int, typer.Option(min=8, help="GPUs in the fleet.")] = 1024,
    kind: FleetKind = "hgx",
    hours: Annotated[float, typer.Option(min=0.01, help="Simulated hours.")] = 1.0,
    faults: Annotated[
        str,
        typer.Option(help="Comma-separated fault kinds, or 'random' for the published mix."),
    ] = "random",
    fault_count: Annotated[
        int | None,
        typer.Option(min=0, help="With random: how many (default 2 per hour; 0: none)."),
    ] = None,
    interval: Annotated[float, typer.Option(min=1, help="Seconds between samples.")] = 10.0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv (gzip).")] = "parquet",
    seed: Annotated[int, typer.Option(help="Same arguments and seed, same bytes.")] = 0,
) -> None:
    """Generate a scenario: topology, telemetry, kernel log, alerts and truth.json."""
    from foreshock.sim.faults import FAULTS
    from foreshock.sim.scenario import Scenario, simulate
    from foreshock.sim.timefmt import rfc3339

    if fmt not in ("parquet", "csv"):
        _fail(f"--format must be parquet or csv, not {fmt!r}")
    chosen = (
        None if faults == "random" else tuple(k.strip() for k in faults.split(",") if k.strip())
    )
    unknown = [k for k in chosen or () if k not in FAULTS]
    if unknown:
        _fail(f"unknown fault kind(s): {', '.join(unknown)}; see `foreshock sim faults`")
    scenario = Scenario(
        shape=_shape(gpus, kind, seed),
        hours=hours,
        interval=interval,
        faults=chosen,
        fault_count=fault_count,
        seed=seed,
    )
    with _progress(transient=False) as progress:
        task = progress.add_task(f"simulating {hours:g} h of {gpus:,} GPUs", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = simulate(scenario, out_dir, fmt, advance)
        except ValueError as exc:
            _fail(str(exc))
    table = Table("fault", "kind", "root", "starts", "precursor from")
    for column in table.columns[2:]:
        column.overflow = "fold"
    for inj in result.injections:
        t = inj.truth
        pre = rfc3339(t.precursor_start) if t.precursor_start else "-"
        table.add_row(t.id, t.kind, t.root, rfc3339(t.start), pre)
    out.print(table)
    out.print(f"{result.samples:,} samples; files in {out_dir}:", highlight=False)
    for name, path in result.files.items():
        out.print(f"  {name:<10} {path.name}", highlight=False)


@sim_app.command("serve")
def sim_serve(
    gpus: Annotated[int, typer.Option(min=8, help="GPUs in the fleet.")] = 1024,
    kind: FleetKind = "hgx",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 picks a free one).")] = 9400,
    interval: Annotated[float, typer.Option(min=1, help="Simulated seconds per step.")] = 10.0,
    speed: Annotated[
        float, typer.Option(min=0.01, help="Simulated seconds per real second.")
    ] = 1.0,
    fault_every: Annotated[
        float, typer.Option(min=0, help="Mean simulated seconds between faults (0: none).")
    ] = 300.0,
    seed: Annotated[int, typer.Option(help="Same seed, same fleet and faults.")] = 0,
    webhook: Annotated[
        str | None, typer.Option(help="Push alerts here as Alertmanager webhooks (v4).")
    ] = None,
    webhook_token: Annotated[
        str | None,
        typer.Option(envvar="FORESHOCK_WEBHOOK_TOKEN", help="Bearer token for the webhook."),
    ] = None,
) -> None:
    """Run the simulator live: exporters to scrape (/metrics, /dcgm/HOST/metrics,
    /node/HOST/metrics, /facility/metrics), targets for http_sd_configs at /sd, truth at /truth,
    and, with --webhook, alerts pushed as Alertmanager would push them."""
    import time

    from foreshock.sim.live import AlertPusher, LiveConfig, LiveFleet, LiveServer

    with err.status(f"building a {gpus:,}-GPU fleet"):
        fleet = LiveFleet(LiveConfig(_shape(gpus, kind, seed), interval, fault_every, seed=seed))
    if webhook:
        AlertPusher(fleet, webhook, webhook_token)
    server = LiveServer(fleet, host, port, speed)
    server.start()
    out.print(f"serving {gpus:,} GPUs on http://{server.address} (targets at /sd, truth at /truth)")
    seen = 0
    try:
        while True:
            time.sleep(0.5)
            truth = fleet.truth()
            for t in truth[seen:]:
                out.print(f"fault {t['id']}: {t['kind']} at {t['root']}, fails {t['start']}")
            seen = len(truth)
    except KeyboardInterrupt:
        server.stop()


def _progress(transient: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=transient,
    )


# --- bench ------------------------------------------------------------------------------------


@app.command("bench")
def bench(
    name: Annotated[str, typer.Argument(help="Benchmark: topology, sim, ingest or detect.")],
    as_json: JsonFlag = False,
    gpus: Annotated[int | None, typer.Option(help="Fleet size (default per benchmark).")] = None,
    repeat: Annotated[int, typer.Option(min=1, help="Repetitions of short timings.")] = 20,
    live_gpus: Annotated[
        int | None, typer.Option(help="sim: fleet size for the live figure (default 100,000).")
    ] = None,
) -> None:
    """Time one part of Foreshock; figures come with a baseline measured in the same run."""
    from foreshock.bench import BENCHES, BenchOptions, run_bench

    if name not in BENCHES:
        _fail(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHES))}")
    with _progress(transient=as_json) as progress:
        result = run_bench(
            name, BenchOptions(gpus=gpus, live_gpus=live_gpus, repeat=repeat, progress=progress)
        )
    if as_json:
        sys.stdout.write(json.dumps(result.to_json()) + "\n")
        return
    table = Table(title=f"bench {name}", title_justify="left")
    table.add_column("figure", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    table.add_column("against a baseline measured in the same run (value ÷ baseline)")
    for f in result.figures:
        ratio = f.ratio
        versus = ""
        if f.baseline is not None and f.baseline_value is not None and ratio is not None:
            versus = f"{ratio:.3g}× {f.baseline} ({f.baseline_value:,.4g} {f.unit})"
        table.add_row(f.name, f"{f.value:,.4g}", f.unit, versus)
    out.print(table)
    for k, v in result.context.items():
        out.print(f"  {k}: {v:,}" if isinstance(v, int) else f"  {k}: {v}", highlight=False)


def main() -> None:
    try:
        app()
    except UnknownEntityError as exc:
        _fail(str(exc))
