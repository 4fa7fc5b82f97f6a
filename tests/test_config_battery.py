"""Malformed configurations, written as a user would write them in YAML: each must stop with a
message that names the offending key (and, where there is a list, the allowed values), before
any job runs. The same check the Snakefile makes: validation, then the expanded sweep."""

import textwrap
from pathlib import Path

import pytest
import yaml

from repgeom.config import ConfigError, load_schema, validate
from repgeom.sweep import Sweep

ROOT = Path(__file__).parents[1]
SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")


def problems(text: str) -> str:
    """The error message the workflow would stop with for this YAML (empty if it is valid)."""
    try:
        sweep = Sweep(validate(yaml.safe_load(textwrap.dedent(text)) or {}, SCHEMA))
    except ConfigError as err:
        return str(err)
    return "\n".join(sweep.errors())


D = "experiments: {d: {family: delta, seeds: 1, "  # completed by each case, closed by "}}"

#: (id, YAML, strings the message must contain)
BATTERY = [
    # -- types
    # a number, or a mapping optimiser → number: the message names both
    ("lr_string", "training: {lr: fast}", ["'training.lr'", "'fast' is not valid", "a number"]),
    ("epochs_float", "training: {epochs: 2.5}", ["'training.epochs'", "not of type 'integer'"]),
    ("epochs_bool", "training: {epochs: true}", ["'training.epochs'", "not of type 'integer'"]),
    ("seeds_string", D + "seeds: many}}", ["experiments.d.seeds", "is not valid"]),
    ("seeds_negative", D + "seeds: [-1]}}", ["experiments.d.seeds", "non-negative"]),
    ("activations_scalar", D + "activations: tanh}}", ["experiments.d.activations"]),
    ("axes_list", D + "axes: [0.5]}}", ["experiments.d.axes", "not of type 'object'"]),
    ("delta_string", D + "axes: {delta: [half]}}}", ["experiments.d.axes.delta[0]"]),
    ("training_list", "training: [1, 2]", ["'training'", "not of type 'object'"]),
    ("experiments_list", "experiments: [delta]", ["'experiments'", "not of type 'object'"]),
    ("results_dir_number", "results_dir: 3", ["'results_dir'", "not of type 'string'"]),
    ("device_bool", "training: {device: true}", ["'training.device'", "'auto'", "'cuda'"]),
    # -- ranges and upper bounds
    ("epochs_zero", "training: {epochs: 0}", ["'training.epochs'", "minimum of 1"]),
    ("epochs_huge", "training: {epochs: 1e12}", ["'training.epochs'", "maximum of 1000000"]),
    ("lr_zero", "training: {lr: 0}", ["'training.lr'", "less than or equal to the minimum"]),
    ("seeds_huge", D + "seeds: 1000000000}}", ["experiments.d.seeds", "is not valid"]),
    ("delta_huge", D + "axes: {delta: [1e300]}}}", ["experiments.d.axes.delta[0]", "maximum"]),
    ("delta_digits", D + "axes: {delta: [1e-300]}}}", ["experiments.d.axes.delta", "round it"]),
    ("sigma_negative", D + "axes: {sigma: [-0.1]}}}", ["experiments.d.axes.sigma[0]", "minimum"]),
    ("width_odd", "model: {width: 7}", ["'model.width'", "multiple of 2"]),
    ("dpi_low", "figures: {dpi: 10}", ["'figures.dpi'", "minimum of 50"]),
    ("mem_low", "resources: {train: {mem_mb: 1}}", ["'resources.train.mem_mb'", "minimum"]),
    (
        "too_many_runs",
        D.replace("seeds: 1", "seeds: 100000") + "axes: {delta: [0, .1, .2, .3, .4, .5]}}}",
        ["'experiments.d'", "1200000 runs", "at most 1000000"],
    ),
    # -- NaN and infinity (YAML's .nan / .inf, and numbers too large for a float)
    ("lr_nan", "training: {lr: .nan}", ["'training.lr'", "finite"]),
    ("lr_inf", "training: {lr: .inf}", ["'training.lr'", "finite"]),
    ("conv_tol_nan", "training: {conv_tol: .nan}", ["'training.conv_tol'", "finite"]),
    ("test_sigma_inf", "evaluation: {test_sigma: .inf}", ["'evaluation.test_sigma'", "finite"]),
    ("delta_nan", D + "axes: {delta: [0.5, .nan]}}}", ["'experiments.d.axes.delta[1]'", "finite"]),
    ("sigma_minus_inf", D + "axes: {sigma: [-.inf]}}}", ["'experiments.d.axes.sigma[0]'"]),
    ("lr_overflow", "training: {lr: 1e999}", ["'training.lr'", "finite"]),
    # -- empty
    ("experiments_empty", "experiments: {}", ["'experiments'", "non-empty"]),
    ("experiment_null", "experiments: {d: }", ["experiments.d", "not of type 'object'"]),
    ("activations_empty", D + "activations: []}}", ["experiments.d.activations", "non-empty"]),
    ("delta_empty", D + "axes: {delta: []}}}", ["experiments.d.axes.delta", "non-empty"]),
    ("results_dir_empty", "results_dir: ''", ["'results_dir'", "empty"]),
    ("lr_null", "training: {lr: }", ["'training.lr'", "None is not valid", "a mapping"]),
    # -- unknown keys and values
    ("top_key_typo", "trainng: {epochs: 5}", ["'trainng' was unexpected", "allowed keys"]),
    ("nested_key_typo", "training: {epoch: 5}", ["'epoch' was unexpected", "epochs"]),
    ("family_unknown", "experiments: {d: {family: cifar}}", ["experiments.d.family", "allowed"]),
    ("activation_unknown", D + "activations: [swish]}}", ["activations[0]", "bounded_relu_ub"]),
    ("readout_unknown", D + "readouts: [gaus]}}", ["experiments.d.readouts[0]", "'gauss'"]),
    ("arch_unknown", D + "architectures: [deep]}}", ["architectures[0]", "allowed: shallow, mlp1"]),
    ("axis_of_other_family", D + "axes: {d: [3]}}}", ["experiments.d.axes", "'d' was unexpected"]),
    ("schedule_unknown", "training: {snapshots: {schedule: exp}}", ["schedule", "'log'"]),
    ("decoder_unknown", "evaluation: {decoders: [mlp]}", ["evaluation.decoders[0]", "'ridge'"]),
    ("decoder_twice", "evaluation: {decoders: [svm, svm]}", ["evaluation.decoders", "non-unique"]),
    ("decoders_empty", "evaluation: {decoders: []}", ["evaluation.decoders"]),
    (
        "decoder_solver_moved",
        "evaluation: {decoder: {solver: newton}}",
        ["decoder.solver", "decoders"],
    ),
    (
        "decoder_kind_moved",
        D + "evaluation: {decoder: {kind: svm}}}}",
        ["experiments.d.evaluation.decoder.kind", "experiments.d.evaluation.decoders"],
    ),
    ("ridge_alpha", "evaluation: {decoder: {alpha: 0}}", ["evaluation.decoder.alpha"]),
    (
        "protocol_unknown_in_experiment",
        D + "evaluation: {protocols: [paper]}}}",
        ["experiments.d.evaluation.protocols[0]", "'original'"],
    ),
    (
        "protocol_unknown",
        "evaluation: {protocols: [clean, paper]}",
        ["'evaluation.protocols[1]'", "allowed: clean, original"],
    ),
    ("pack_unknown", D + "training: {pack_axes: [act]}}}", ["pack_axes", "act"]),
    ("experiment_name", "experiments: {'E 2': {family: delta}}", ["'E 2' does not match"]),
    ("old_format", "sweep: {deltas: [0.5]}", ["'sweep'", "format changed"]),
    # -- paths
    ("results_dir_root", "results_dir: /", ["'results_dir'", "file-system root"]),
    ("results_dir_dot", "results_dir: .", ["'results_dir'", "working directory"]),
    ("results_dir_dotslash", "results_dir: ./", ["'results_dir'", "working directory"]),
    ("results_dir_parent", "results_dir: ..", ["'results_dir'", "a folder above it"]),
    ("results_dir_home", "results_dir: '~'", ["'results_dir'", "home folder"]),
    ("results_dir_braces", "results_dir: 'res{ult}s'", ["'results_dir'", "wildcards"]),
    ("results_dir_unset_var", "results_dir: $REPGEOM_UNSET_X/r", ["REPGEOM_UNSET_X", "not set"]),
    # -- what used to fail only inside a job, or pass silently (issue 20)
    ("experiment_name_number", "experiments: {1: {family: delta}}", ["'experiments'", "folder"]),
    (
        "alignment_dim_below_features",
        "experiments: {a: {family: alignment, axes: {d: [5]}, task: {dim: 10}}}",
        ["'experiments.a.task.dim'", "31 parity features"],
    ),
    (
        "task_seed_overflow",
        "experiments: {a: {family: alignment, axes: {task_seeds: [9223372036854775808]}}}",
        ["'experiments.a.axes.task_seeds'", "2147483647"],
    ),
    (
        "delta_setting_on_alignment",
        "experiments: {a: {family: alignment, figures: {training_delta: 0.5}}}",
        ["'experiments.a.figures.training_delta'", "only to delta"],
    ),
    (
        "alignments_huge",
        "experiments: {a: {family: alignment, axes: {alignments: 3e7}}}",
        ["'experiments.a.axes.alignments'", "maximum of 1000"],
    ),
]


@pytest.mark.parametrize(("text", "needles"), [c[1:] for c in BATTERY], ids=[c[0] for c in BATTERY])
def test_malformed_config_names_its_key(text, needles):
    msg = problems(text)
    assert msg, "accepted"
    for needle in needles:
        assert needle in msg, msg
    assert "Traceback" not in msg


def test_battery_size():
    assert len(BATTERY) >= 30


def test_results_dir_that_is_a_file(tmp_path):
    f = tmp_path / "results"
    f.write_text("not a folder")
    msg = problems(f"results_dir: {f}")
    assert "'results_dir'" in msg and "existing file" in msg


def test_results_dir_tilde_is_the_home_folder():
    cfg = validate({"results_dir": "~/res/"}, SCHEMA)
    assert cfg["results_dir"] == str(Path.home() / "res")
    assert Sweep(cfg).experiments["delta"].root == str(Path.home() / "res/delta")


def test_results_dir_spellings_of_one_folder_are_one_path():
    for spelling in ("results", "./results", "results/", ".//results//"):
        assert validate({"results_dir": spelling}, SCHEMA)["results_dir"] == "results"


@pytest.mark.parametrize("text", ["results_dir: results", "results_dir: results/", ""])
def test_ordinary_results_dirs_pass(text):
    assert problems(text) == ""
