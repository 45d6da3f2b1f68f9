"""analysis: the probing toolkit of vasis-suite, and the main job on top of it.

Library modules (imports go down this list, never up):

* :mod:`analysis.surgery` - copies of a generator with another padding / norm or residual
  kernel size;
* :mod:`analysis.layouts` - synthetic label maps (one class, two classes, boxes, series);
* :mod:`analysis.recorder` - per-block feature statistics (:func:`probe`, :class:`FeatureRecorder`);
* :mod:`analysis.encoders` - label map -> input of a network the suite did not build (official
  SPADE / CLADE / OASIS conventions), for ``probe(model, layouts, points=..., encode=...)``;
* :mod:`analysis.metrics` - intra/inter-class variation, boundary profiles, pattern repetition
  (the VASIS intra-class statistics of image folders are :mod:`vasis.metrics.intra_class`).

* :mod:`analysis.study` - the study's vocabulary: presets by role (from the registry),
  settings, thresholds, tiny widths, default layouts, calibration maps, one seeded recording;
* :mod:`analysis.structure` - the structural probes' tables, claims and findings;
* :mod:`analysis.runs` - the one train-or-reuse of the jobs' short training runs;
* :mod:`analysis.report` - the one number formatter and Markdown table writer;
* :mod:`analysis.figures` - the one palette, figure saving, the jobs' figures;
* :mod:`analysis.cpu` - one thread with denormals flushed.

Jobs (thin orchestrators, imported by nothing in the library): :mod:`analysis.main_job` and
its training part :mod:`analysis.trained`; the experiments (:mod:`experiments`) sit beside
them, the commands (:mod:`analysis.commands`) and the command registry
(:mod:`vasis_suite.cli`) above.

Definitions of every statistic: ``docs/metrics.md``; the main job: ``docs/main-job.md``.
"""
from . import layouts, metrics, recorder, surgery
from .layouts import (box, box_series, boundary_series, one_class, resolve_class, stack,
                      two_class)
from .metrics import (boundary_anchors, class_variation, distance_to_boundary, fraction_within,
                      inter_class_std, ncc, pattern_repetition, resize_labels, sample_std,
                      variation_profile, variation_ratio, within_map_class_std)
from .recorder import STATISTICS, FeatureRecorder, calibrate, describe_model, probe
from .surgery import clone_module, swap_block_kernel, swap_norm_kernel, swap_padding
from . import encoders
from .recorder import probe_points
from .surgery import padding_of, select_convs

__all__ = [
    "layouts", "metrics", "recorder", "surgery",
    "one_class", "two_class", "box", "boundary_series", "box_series", "stack", "resolve_class",
    "FeatureRecorder", "probe", "calibrate", "describe_model", "STATISTICS",
    "swap_padding", "swap_norm_kernel", "swap_block_kernel", "clone_module",
    "within_map_class_std", "inter_class_std", "variation_ratio", "sample_std", "class_variation",
    "distance_to_boundary", "variation_profile", "fraction_within", "ncc",
    "pattern_repetition", "boundary_anchors", "resize_labels",
    "encoders", "probe_points", "padding_of", "select_convs",
]
