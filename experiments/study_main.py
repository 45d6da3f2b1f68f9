"""The main job's trained part: the trained study's headline.

When the whole study of the profile is in the study folder (``run_analysis.py study`` has run:
every seed, every cell), the main job shows its results, with intervals. Otherwise it runs the
*reduced* study: the same profile for one seed and without Table 1's rows, whose runs and cells
are exactly the full study's seed-``seed`` ones (same folders, same cell scope), so a later
``run_analysis.py study`` reuses them and adds the rest. With one seed there is no interval and
the verdicts say so.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from analysis.cpu import all_cores
from analysis.figures import source_label
from analysis.report import REPO, link, md_table, relative

from .common import MARKER
from .study import (NAME, PROFILES, Profile, Training, cells, check_outputs, contexts,
                    run_profile, trained_rows)
from .table1 import SURGERY_ROWS
from .study_report import Results, findings, headline_table, verdicts, write_report

FIGURES = ("study_curves", "study_profile", "study_samples", "study_repetition")


def expected_cells(prof: Profile) -> list[tuple[str, str]]:
    """(model, setting) of every cell group one seed of ``prof`` fills."""
    s = prof.scale
    every = s.ckpt_every or s.iters
    steps = sorted({*range(every, s.iters + 1, every), s.iters})[-max(1, s.keep):]
    out = [("data", "real")]
    for model, setting, _ in trained_rows(prof):
        if setting == "original":
            out += [(model, f"original@{k}") for k in steps]
            if model in prof.table1:
                out += [(model, f"surgery:{n}@{s.iters}") for n in SURGERY_ROWS[model]]
        else:
            out.append((model, f"{setting}@{s.iters}"))
    return out


def complete(prof: Profile, ctxs) -> bool:
    """Whether every cell of every seed of ``prof`` is in the study folder."""
    return all(ctx.store.has(NAME, m, s, MARKER) for ctx in ctxs for m, s in expected_cells(prof))


def reduced(prof: Profile, seed: int, iters: int | None = None) -> Profile:
    """One seed, no Table 1 rows: the main job's share of the study."""
    changes = {"iters": iters} if iters else {}
    # not through with_: it gives ``name`` to the Scale, whose name names the runs' folder,
    # and the reduced study must train into the full study's run folders
    return replace(prof.with_(**changes), name=f"{prof.name}, seed {seed} only", seeds=(seed,),
                   table1=())


class TrainedPart:
    """The callable :class:`analysis.main_job.JobConfig` runs after the probes."""

    def __init__(self, study_out, *, quick: bool = False, seed: int = 0,
                 iters: int | None = None, log=print):
        self.study_out = Path(study_out)
        self.full = PROFILES["quick" if quick else "cpu"]
        self.seed, self.iters, self.log = seed, iters, log
        self.full_ctxs = contexts(self.full, self.study_out, log=log)
        self.use_full = iters is None and complete(self.full, self.full_ctxs)
        self.prof = self.full if self.use_full else reduced(self.full, seed, iters)
        self.ctxs = self.full_ctxs if self.use_full else contexts(self.prof, self.study_out,
                                                                  log=log)
        self.training: Training | None = None

    def check(self) -> None:
        """Refuse a foreign folder where a run goes, before the probes run for minutes."""
        check_outputs(self.prof, self.ctxs)

    def start(self) -> None:
        """Start the reduced study's runs in the profile's worker processes, to train while
        the main job's probes run in this process (on one thread); the call collects them."""
        if not self.use_full and self.training is None:
            self.training = Training(self.prof, self.ctxs, self.prof.jobs, self.log)

    def stop(self) -> None:
        """End the started runs (the probes failed or were interrupted)."""
        if self.training is not None:
            self.training.stop()
            self.training = None

    def __call__(self, out: Path, figdir: Path, progress: bool) -> dict:
        if not self.use_full:
            run_profile(self.prof, self.ctxs, progress=progress, log=self.log,
                        training=self.training)
            self.training = None
        found = cells(self.ctxs)
        with all_cores():   # the figures run the trained generators
            paths = write_report(self.prof, self.study_out, found, self.ctxs, figdir)
        res = Results(found, self.prof)
        figs = {k: paths[k] for k in FIGURES if k in paths}
        return {"lines": self.lines(res, out, figs, paths["markdown"]), "figures": figs,
                "files": [paths["cells"], paths["summary"], paths["verdicts"]],
                "summary": f"`{relative(self.study_out, out)}/`: the trained study's runs, cells "
                           f"and report (`study.md`, `study_*.csv`)."}

    def lines(self, res: Results, out: Path, figs: dict, report: Path) -> list[str]:
        prof, s = self.prof, self.prof.scale
        rel = lambda p: relative(p, out)
        which = (f"the full study ({len(prof.seeds)} seeds; values: mean [95% interval])"
                 if self.use_full else
                 f"the reduced study: seed {self.seed} only, so no intervals - "
                 f"`run_analysis.py study` adds seeds "
                 f"{', '.join(str(k) for k in self.full.seeds if k != self.seed)} and Table 1, "
                 f"reusing these runs")
        lines = [
            "## Trained models: the study's headline",
            "",
            f"{', '.join(source_label(m) for m in prof.models)} trained on the built-in scenes at "
            f"{s.size[0]}x{s.size[1]} for {s.iters} iterations: {which}. Full report: "
            f"[{rel(report)}]({rel(report)}); how the numbers and verdicts are made: "
            f"[docs/study.md]({link(REPO / 'docs' / 'study.md', out)}).",
            "",
            *findings(verdicts(res)),
            "",
            md_table(headline_table(res)),
            "",
        ]
        for key in FIGURES:
            if key in figs:
                lines += [f"![{key}]({rel(figs[key])})", ""]
        return lines
