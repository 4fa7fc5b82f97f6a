"""Configurations that used to be accepted silently, or to fail later inside a job (issue 20):
each must now stop at parse time with one ConfigError naming the key (or the file and line)
and what to do, or be canonicalised so that nothing downstream sees the odd spelling.

Each class covers one kind of problem; the batteries are YAML text as a user would write it,
checked the way the Snakefile checks it (validation, then the expanded sweep)."""

import math
import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from conftest import snakemake_cmd

from repgeom.config import (
    MAX_LISTED,
    SCHEMA_PATH,
    ConfigError,
    check_config,
    excerpt,
    experiment_schema,
    load_config_files,
    load_schema,
    load_yaml,
)
from repgeom.sweep import Sweep, fmt_float, seed_list

ROOT = Path(__file__).parents[1]
SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")

D = "experiments: {d: {family: delta, seeds: 1, "  # a δ-task experiment, closed by "}}"
A = "experiments: {a: {family: alignment, seeds: 1, "  # an alignment experiment


def parse(text: str):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the same values, sooner
    return yaml.load(textwrap.dedent(text), Loader=loader)


def problems(text: str) -> str:
    """The message the workflow stops with for this YAML ('' if it is accepted). Anything but
    a ConfigError propagates and fails the test: a traceback is never the answer."""
    try:
        check_config(parse(text) or {}, SCHEMA)
    except ConfigError as err:
        return str(err)
    return ""


def resolved(text: str) -> dict:
    return check_config(parse(text), SCHEMA)


def assert_refused(text: str, needles: list[str]) -> str:
    msg = problems(text)
    assert msg, "accepted"
    for needle in needles:
        assert needle in msg, msg
    assert "Traceback" not in msg
    return msg


def battery(cases):
    return pytest.mark.parametrize(
        ("text", "needles"), [c[1:] for c in cases], ids=[c[0] for c in cases]
    )


# --------------------------------------------------------------------------- 1. integral floats


class TestIntegralFloats:
    """Whole numbers written as floats are ints wherever the schema says integer."""

    CASES = [
        ("seeds_count", D.replace("seeds: 1, ", "") + "seeds: 3.0}}", "d", ("seeds",), 3),
        ("seeds_list", D.replace("seeds: 1, ", "") + "seeds: [2.0, 0.0]}}", "d", ("seeds",),
         [2, 0]),
        ("epochs", D + "training: {epochs: 20.0}}}", "d", ("training", "epochs"), 20),
        ("epochs_shared", "training: {epochs: 20.0}\n" + D + "}}", "d", ("training", "epochs"), 20),
        ("width", D + "model: {width: 8.0}}}", "d", ("model", "width"), 8),
        ("dim", D + "task: {dim: 12.0}}}", "d", ("task", "dim"), 12),
        ("data_seed", D + "task: {data_seed: 3.0}}}", "d", ("task", "data_seed"), 3),
        ("task_seed", D + "task: {task_seed: 7.0}}}", "d", ("task", "task_seed"), 7),
        ("n_train", D + "task: {n_train: 1000.0}}}", "d", ("task", "n_train"), 1000),
        ("count", D + "training: {snapshots: {count: 4.0}}}}", "d",
         ("training", "snapshots", "count"), 4),
        ("max_iter", D + "evaluation: {decoder: {max_iter: 100.0}}}}", "d",
         ("evaluation", "decoder", "max_iter"), 100),
        ("task_seeds_list", A + "axes: {task_seeds: [1.0, 4.0]}}}", "a", ("axes", "task_seeds"),
         [1, 4]),
        ("task_seeds_count", A + "axes: {task_seeds: 2.0}}}", "a", ("axes", "task_seeds"), 2),
        ("alignments", A + "axes: {alignments: 4.0}}}", "a", ("axes", "alignments"), 4),
        ("d_and_k", A + "axes: {d: [3.0], k: [1.0, d]}}}", "a", ("axes", "k"), [1, "d"]),
        ("align", A + "axes: {align: [1.0], alignments: 3}}}", "a", ("axes", "align"), [1]),
    ]  # fmt: skip

    @pytest.mark.parametrize(
        ("text", "name", "path", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
    )
    def test_canonical_int(self, text, name, path, expected):
        node = resolved(text)["experiments"][name]
        for part in path:
            node = node[part]
        assert node == expected
        for value in node if isinstance(node, list) else [node]:
            assert not isinstance(value, float), value

    def test_runs_per_job_plans_integer_blocks(self):
        cfg = resolved(D.replace("seeds: 1", "seeds: 4") + "}}\ntraining: {runs_per_job: 2.0}")
        exp = Sweep(cfg).experiments["d"]
        assert [b.name for b in exp.blocks] == ["block0", "block1"]
        assert all(".0." not in m for m in exp.all_manifests("train"))

    def test_seed_list_sees_ints(self):
        exp = Sweep(resolved(D.replace("seeds: 1, ", "") + "seeds: 3.0}}")).experiments["d"]
        assert exp.seeds == [0, 1, 2] and all(type(s) is int for s in exp.seeds)
        assert seed_list(3.0) == [0, 1, 2] and seed_list([2.0, 1]) == [1, 2]

    def test_cells_of_float_task_seeds_are_int_folders(self):
        exp = Sweep(resolved(A + "axes: {task_seeds: [1.0], d: [3.0]}}}")).experiments["a"]
        assert {c["task_seed"] for c in exp.cells} == {"1"} and {c["d"] for c in exp.cells} == {"3"}

    def test_every_integer_key_holds_an_int(self):
        """Every integer setting written as a float comes back as an int."""
        text = """
        training: {epochs: 20.0, batch_size: 10.0, runs_per_job: 2.0, threads: 1.0,
                   snapshots: {count: 3.0, every: 5.0}}
        model: {width: 8.0}
        evaluation: {ccgp_max_splits: 8.0, decoder: {max_iter: 50.0}}
        figures: {dpi: 100.0}
        resources: {train: {runtime: 5.0, mem_mb: 500.0, gpus: 0.0}, evaluate: {runtime: 5.0}}
        experiments:
          d: {family: delta, seeds: 2.0, task: {dim: 12.0, n_train: 100.0, n_test: 50.0}}
          a: {family: alignment, seeds: [0.0, 1.0],
              axes: {d: [2.0], k: [1.0], alignments: 2.0, task_seeds: 1.0},
              task: {dim: 8.0, data_seed: 0.0}}
        """
        cfg = resolved(text)
        from repgeom.tasks import FAMILIES

        checked, floats = [], []

        def walk(value, schema, path):
            types = schema.get("type", [])
            types = {types} if isinstance(types, str) else set(types)
            if "integer" in types and "number" not in types and type(value) in (int, float):
                checked.append(path)
                if type(value) is not int:
                    floats.append(path)
            if isinstance(value, list) and "items" in schema:
                for i, v in enumerate(value):
                    walk(v, schema["items"], f"{path}[{i}]")
            if isinstance(value, dict):
                for k, sub in schema.get("properties", {}).items():
                    if k in value:
                        walk(value[k], sub, f"{path}.{k}")
            for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
                walk(value, branch, path)

        walk({k: v for k, v in cfg.items() if k != "experiments"}, SCHEMA, "")
        for name, exp in cfg["experiments"].items():
            walk(exp, experiment_schema(SCHEMA, FAMILIES[exp["family"]]), name)
        assert not floats
        assert {
            "d.seeds",
            "a.seeds[1]",
            "a.axes.k[0]",
            "a.axes.task_seeds",
            ".resources.train.gpus",
            "d.task.dim",
            "a.task.data_seed",
            ".training.snapshots.every",
        } <= set(checked)

    def test_non_integral_floats_stay_refused(self):
        assert_refused(D + "training: {epochs: 2.5}}}", ["training.epochs", "not of type"])
        assert_refused(D.replace("seeds: 1, ", "") + "seeds: 2.5}}", ["experiments.d.seeds"])


# --------------------------------------------------------------------------- 2. equal values


class TestEqualValues:
    """Values that are equal (-0.0 and 0.0) are one cell, one folder, one training."""

    def test_fmt_float_negative_zero(self):
        assert fmt_float(-0.0) == fmt_float(0.0) == "0.0"

    @pytest.mark.parametrize(
        ("text", "name", "key"),
        [
            (D + "axes: {delta: [-0.0, 0.0], sigma: [0.1]}}}", "d", "delta"),
            (D + "axes: {delta: [0.5], sigma: [-0.0, 0.0]}}}", "d", "sigma"),
            (D + "axes: {delta: [0.0, -0.0, 0.5], sigma: [0.1]}}}", "d", "delta"),
            (A + "axes: {sigma: [0.0, -0.0]}}}", "a", "sigma"),
        ],
        ids=["delta", "sigma", "delta_three", "alignment_sigma"],
    )
    def test_negative_zero_is_one_cell(self, text, name, key):
        exp = Sweep(resolved(text)).experiments[name]
        values = exp.axis_values(key)
        assert "-0.0" not in values and values.count("0.0") == 1
        assert len({exp.cell_dir(c) for c in exp.cells}) == len(exp.cells)
        assert exp.n_runs == len(exp.cells) * len(exp.seeds)

    def test_negative_zero_alone_is_the_zero_folder(self):
        exp = Sweep(resolved(D + "axes: {delta: [-0.0]}}}")).experiments["d"]
        assert "/delta=0.0/" in exp.run_file(exp.cells[0], 0, "w")
        assert (
            exp.cfg["axes"]["delta"] == [0.0] and math.copysign(1, exp.cfg["axes"]["delta"][0]) > 0
        )

    def test_figure_setting_negative_zero_names_the_swept_zero(self):
        assert problems(D + "axes: {delta: [0.0, 0.5]}, figures: {training_delta: -0.0}}}") == ""

    def test_negative_zero_and_zero_train_once(self):
        exp = Sweep(resolved(D + "axes: {delta: [-0.0, 0.0]}, training: {pack_axes: [delta]}}}"))
        (only,) = exp.experiments["d"].packed_combos
        assert only == {"delta": "0.0"}


# --------------------------------------------------------------------------- 3. strict loader


BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


class TestStrictLoader:
    """load_yaml: one config file read strictly, every problem named by file and line."""

    CASES = [
        (
            "duplicate_nested_key",
            "training:\n  epochs: 3\n  lr: 0.1\n  epochs: 4\n",
            ["line 4", "'epochs' appears twice", "first on line 2"],
        ),
        (
            "duplicate_experiment",
            "experiments:\n  d: {family: delta}\n  a: {family: alignment}\n  d: {family: delta}\n",
            ["line 4", "'d' appears twice", "first on line 2"],
        ),
        (
            "duplicate_top_level",
            "training: {epochs: 3}\nmodel: {width: 8}\ntraining: {lr: 0.1}\n",
            ["line 3", "'training' appears twice", "first on line 1"],
        ),
        ("duplicate_flow_mapping", "training: {epochs: 3, epochs: 4}\n", ["line 1", "'epochs'"]),
        (
            "duplicate_boolean_spellings",
            "experiments:\n  yes: {family: delta}\n  true: {family: delta}\n",
            ["line 3", "'true' appears twice", "first on line 2"],
        ),
        ("unclosed_bracket", "training:\n  epochs: [3\nmodel: {}\n", ["line ", "not valid YAML"]),
        ("bad_indentation", "training:\n  epochs: 3\n lr: 0.1\n", ["line 3", "not valid YAML"]),
        ("tab_indentation", "training:\n\tepochs: 3\n", ["line 2", "tabs"]),
        ("top_level_list", "- 1\n- 2\n", ["top level is a list", "mapping of keys"]),
        ("top_level_scalar", "hello\n", ["top level is a string ('hello')", "mapping of keys"]),
        ("top_level_number", "3\n", ["top level is a number (3)"]),
        ("two_documents", "training: {}\n---\nmodel: {}\n", ["line 2", "single document"]),
        (
            "recursive_alias",
            "experiments: &e\n  d: {family: delta, again: *e}\n",
            ["line 2", "alias *e", "contains it"],
        ),
        (
            "json_duplicate",
            '{\n\t"training": {"epochs": 3, "epochs": 4}\n}\n',
            ["'epochs'", "twice"],
        ),
    ]

    @battery(CASES)
    def test_refused_with_file_and_line(self, tmp_path, text, needles):
        f = tmp_path / "bad.yaml"
        f.write_text(text)
        with pytest.raises(ConfigError) as exc:
            load_yaml(f)
        msg = str(exc.value)
        assert f"config file {f}" in msg, msg
        for needle in needles:
            assert needle in msg, msg

    def test_anchor_bomb_is_refused_at_once(self, tmp_path):
        f = tmp_path / "bomb.yaml"
        f.write_text(BOMB)
        t0 = time.perf_counter()
        with pytest.raises(ConfigError) as exc:
            load_yaml(f)
        assert time.perf_counter() - t0 < 0.5
        msg = str(exc.value)
        assert f"config file {f}, line 9" in msg and "aliases" in msg and "2,000,000" in msg

    def test_anchor_bomb_given_as_a_dict_is_refused_at_once(self):
        """Snakemake reads the file itself (aliases become shared lists): validate must not
        walk them 9^9 times."""
        t0 = time.perf_counter()
        msg = problems(BOMB)
        assert time.perf_counter() - t0 < 0.5
        assert "(top level)" in msg and "values" in msg and "aliases" in msg

    def test_aliases_and_merge_keys_that_stay_small_are_fine(self, tmp_path):
        f = tmp_path / "ok.yaml"
        f.write_text(
            "base: &base {family: delta, seeds: 2, training: {epochs: 5}}\n"
            "experiments:\n"
            "  d: *base\n"
            "  e:\n"
            "    <<: *base\n"
            "    seeds: 3\n"
        )
        data = load_yaml(f)
        assert data["experiments"]["e"]["seeds"] == 3
        assert data["experiments"]["d"]["training"] == {"epochs": 5}

    def test_empty_file_is_an_empty_config(self, tmp_path):
        f = tmp_path / "empty.yaml"
        f.write_text("# nothing yet\n")
        assert load_yaml(f) == {}

    def test_missing_file(self, tmp_path):
        with pytest.raises(ConfigError, match="cannot be read"):
            load_yaml(tmp_path / "nope.yaml")

    def test_not_utf8(self, tmp_path):
        f = tmp_path / "latin1.yaml"
        f.write_bytes(b"training:\n  device: caf\xe9\n")
        with pytest.raises(ConfigError, match=r"line 2: not UTF-8"):
            load_yaml(f)

    def test_json_is_read(self, tmp_path):
        f = tmp_path / "c.json"
        f.write_text('{\n\t"training": {"epochs": 3}\n}\n')
        assert load_yaml(f) == {"training": {"epochs": 3}}

    def test_load_config_files_merges_in_order_and_validates(self, tmp_path):
        first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
        first.write_text("experiments: {d: {family: delta, seeds: 2}}\ntraining: {epochs: 7}\n")
        second.write_text("experiments: {d: {seeds: 3.0}}\n")
        cfg = load_config_files([first, second])
        assert cfg["experiments"]["d"]["seeds"] == 3
        assert cfg["experiments"]["d"]["training"]["epochs"] == 7

    def test_load_config_files_names_the_file_of_a_duplicate(self, tmp_path):
        good, bad = tmp_path / "a.yaml", tmp_path / "b.yaml"
        good.write_text("experiments: {d: {family: delta}}\n")
        bad.write_text("training:\n  epochs: 3\n  epochs: 4\n")
        with pytest.raises(ConfigError, match=f"config file {bad}, line 3"):
            load_config_files([good, bad])

    def test_load_config_files_makes_the_sweeps_checks(self, tmp_path):
        f = tmp_path / "a.yaml"
        f.write_text("experiments: {d: {family: delta, activations: [swish]}}\n")
        with pytest.raises(ConfigError, match=r"experiments\.d\.activations\[0\]"):
            load_config_files([f])

    def test_repo_configs_load(self, tmp_path, monkeypatch):
        # the CIFAR-10 configs name data folders, which must exist when the workflow is parsed
        monkeypatch.chdir(tmp_path)
        for folder in ("data/cifar-10-batches-bin", "data/tiny-cifar"):
            (tmp_path / folder).mkdir(parents=True)
        for f in [ROOT / "config.yaml", *sorted((ROOT / "configs").glob("*.yaml"))]:
            assert load_config_files([f], load_schema(SCHEMA_PATH))["experiments"], f
        f = tmp_path / "more_test.yaml"
        f.write_text(
            "experiments: {c: {family: cifar10, task: {data_dir: data/tiny-cifar, "
            "n_train: 100, n_test: 200}}}\n"
        )
        with pytest.raises(ConfigError, match=r"task\.n_test.*200 is more than n_train = 100"):
            load_config_files([f], load_schema(SCHEMA_PATH))
        f.write_text("experiments: {c: {family: cifar10, architectures: [mlp2]}}\n")
        with pytest.raises(ConfigError, match=r"'mlp2' takes vector inputs.*allowed here: cnn"):
            load_config_files([f], load_schema(SCHEMA_PATH))
        (tmp_path / "data/tiny-cifar").rmdir()
        with pytest.raises(ConfigError, match=r"task\.data_dir.*'data/tiny-cifar' is not a folder"):
            load_config_files([ROOT / "configs/cnn_smoke.yaml"], load_schema(SCHEMA_PATH))


# --------------------------------------------------------------------------- 4. job-only values


class TestJobOnlyValues:
    """Values that used to pass validation and fail inside a job (overflow, ValueError, memory)."""

    CASES = [
        ("align_sigma_huge", A + "axes: {sigma: [1e20]}}}",
         ["'experiments.a.axes.sigma[0]'", "maximum of 100"]),
        ("delta_dim_huge", D + "task: {dim: 3e9}}}",
         ["'experiments.d.task.dim'", "maximum of 99999"]),
        ("align_dim_huge", A + "task: {dim: 1e9}}}",
         ["'experiments.a.task.dim'", "maximum of 100000"]),
        ("task_seeds_overflow", A + "axes: {task_seeds: [0, 9223372036854775808]}}}",
         ["'experiments.a.axes.task_seeds'", "item [1]", "maximum of 2147483647"]),
        ("task_seeds_int64_max", A + "axes: {task_seeds: [9223372036854775807]}}}",
         ["'experiments.a.axes.task_seeds'", "2147483647"]),
        ("delta_task_seed_overflow", D + "task: {task_seed: 9223372036854775808}}}",
         ["'experiments.d.task.task_seed'", "maximum of 2147483647"]),
        ("data_seed_overflow", D + "task: {data_seed: 1e19}}}",
         ["'experiments.d.task.data_seed'", "maximum of 2147483647"]),
        ("dim_below_features", A + "axes: {d: [5]}, task: {dim: 10}}}",
         ["'experiments.a.task.dim'", "31 parity features of d=5", "task.dim ≥ 31"]),
        ("dim_below_features_of_largest_d", A + "axes: {d: [2, 4]}, task: {dim: 8}}}",
         ["'experiments.a.task.dim'", "15 parity features of d=4"]),
        ("inputs_too_large", D + "task: {n_train: 1e7, dim: 99999}}}",
         ["'experiments.d.task.n_train'", "'experiments.d.task.dim'", "250,000,000"]),
        ("test_inputs_too_large", D + "task: {n_test: 5e6, dim: 999}}}",
         ["'experiments.d.task.n_test'", "'experiments.d.task.dim'", "lower one"]),
        ("weights_too_large", D + "model: {width: 100000}, task: {dim: 9999}}}",
         ["'experiments.d.model.width'", "'experiments.d.task.dim'", "snapshots"]),
        ("hidden_too_large", D + "model: {width: 100000}, task: {n_train: 1e6, dim: 3}}}",
         ["'experiments.d.task.n_train'", "'experiments.d.model.width'", "hidden responses"]),
        ("alpha_huge", A + "task: {alpha: 1e300}}}", ["'experiments.a.task.alpha'", "maximum"]),
        ("threads_huge", "training: {threads: 1e9}", ["'training.threads'", "maximum of 1024"]),
        ("runs_per_job_huge", "training: {runs_per_job: 1e12}",
         ["'training.runs_per_job'", "maximum of 100000"]),
        ("batch_size_huge", "training: {batch_size: 1e300}",
         ["'training.batch_size'", "1e+300 is greater than the maximum"]),
        ("epochs_int_huge", "training: {epochs: " + "9" * 400 + "}",
         ["'training.epochs'", "…", "greater than the maximum"]),
        ("every_huge", "training: {snapshots: {every: 1e300}}", ["'training.snapshots.every'"]),
        ("progress_huge", "training: {progress_every_s: 1e300}", ["'training.progress_every_s'"]),
        ("gpus_huge", "resources: {train: {gpus: 1000}}",
         ["'resources.train.gpus'", "maximum of 64"]),
        ("mem_huge", "resources: {train: {mem_mb: 1e15}}", ["'resources.train.mem_mb'", "maximum"]),
        ("gpu_model_shell", "resources: {train: {gpu_model: 'a100 --wrap=x'}}",
         ["'resources.train.gpu_model'", "does not match"]),
        ("k_huge", A + "axes: {k: [1e9]}}}", ["'experiments.a.axes.k[0]'", "at most 30"]),
        ("align_index_huge", A + "axes: {align: [1e9]}}}", ["'experiments.a.axes.align'", "999"]),
        ("figures_sigma_negative", "figures: {sigma: -1}", ["'figures.sigma'", "minimum of 0"]),
    ]  # fmt: skip

    @battery(CASES)
    def test_refused_at_parse_time(self, text, needles):
        assert_refused(text, needles)

    def test_every_number_in_the_schema_has_a_maximum(self):
        """An unbounded number is a typo away from an absurd allocation or an overflow."""
        from repgeom.tasks import FAMILIES

        missing = []

        def walk(node, path):
            if isinstance(node, dict):
                types = node.get("type", [])
                types = {types} if isinstance(types, str) else set(types)
                if types & {"integer", "number"} and "maximum" not in node:
                    missing.append(path)
                for k, v in node.items():
                    walk(v, f"{path}.{k}")
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, f"{path}[{i}]")

        walk(SCHEMA, "")
        for fam in FAMILIES.values():
            walk(experiment_schema(SCHEMA, fam), fam.name)
        assert not missing


# --------------------------------------------------------------------------- 5. results_dir


class TestResultsDir:
    """results_dir: environment variables expanded; paths that cannot hold results refused."""

    CASES = [
        ("braces", "results_dir: 'res{ult}s'", ["'results_dir'", "braces", "wildcards"]),
        ("braces_unclosed", "results_dir: 'results{'", ["'results_dir'", "braces"]),
        ("too_long", "results_dir: " + "r" * 5000, ["'results_dir'", "bytes", "at most 1024"]),
        ("component_too_long", "results_dir: out/" + "r" * 300 + "/x",
         ["'results_dir'", "300 bytes", "at most 255"]),
        ("proc", "results_dir: /proc/x", ["'results_dir'", "system folder"]),
        ("sys", "results_dir: /sys/results", ["'results_dir'", "system folder"]),
        ("dev", "results_dir: /dev/shm/../results", ["'results_dir'", "system folder"]),
        ("git", "results_dir: .git/results", ["'results_dir'", ".git folder"]),
        ("git_deeper", "results_dir: sub/.git/objects/results", ["'results_dir'", ".git folder"]),
        ("newline", 'results_dir: "results\\n"', ["'results_dir'", "control characters"]),
        ("nul", 'results_dir: "res\\0ults"', ["'results_dir'", "control characters"]),
        ("unset_var", "results_dir: $REPGEOM_SURELY_UNSET_VAR/results",
         ["'results_dir'", "REPGEOM_SURELY_UNSET_VAR", "not set"]),
        ("unset_var_braced", "results_dir: '${REPGEOM_SURELY_UNSET_VAR}/results'",
         ["'results_dir'", "REPGEOM_SURELY_UNSET_VAR", "not set"]),
        ("unknown_user", "results_dir: ~repgeom_no_such_user/results",
         ["'results_dir'", "~repgeom_no_such_user", "no such user"]),
    ]  # fmt: skip

    @battery(CASES)
    def test_refused(self, text, needles):
        msg = assert_refused(text, needles)
        assert len(msg) < 500

    def test_environment_variables_expand(self, monkeypatch, tmp_path):
        monkeypatch.setenv("REPGEOM_TEST_SCRATCH", str(tmp_path))
        for spelling in ("$REPGEOM_TEST_SCRATCH/results", "${REPGEOM_TEST_SCRATCH}/results/"):
            cfg = resolved(f"results_dir: '{spelling}'")
            assert cfg["results_dir"] == str(tmp_path / "results")
            assert Sweep(cfg).experiments["delta"].root == str(tmp_path / "results/delta")

    def test_empty_environment_variable(self, monkeypatch):
        monkeypatch.setenv("REPGEOM_TEST_EMPTY", "")
        assert_refused("results_dir: $REPGEOM_TEST_EMPTY/results", ["REPGEOM_TEST_EMPTY", "empty"])

    def test_variable_holding_braces(self, monkeypatch, tmp_path):
        monkeypatch.setenv("REPGEOM_TEST_SCRATCH", f"{tmp_path}/{{x}}")
        assert_refused("results_dir: $REPGEOM_TEST_SCRATCH/r", ["'results_dir'", "braces"])

    def test_parent_is_a_file(self, tmp_path):
        (tmp_path / "file").write_text("x")
        assert_refused(
            f"results_dir: {tmp_path}/file/results", ["'results_dir'", "cannot be created", "file"]
        )

    def test_inside_a_git_folder_of_an_absolute_path(self, tmp_path):
        (tmp_path / "repo/.git").mkdir(parents=True)
        assert_refused(f"results_dir: {tmp_path}/repo/.git/results", ["'results_dir'", ".git"])

    def test_ordinary_folders_pass(self, tmp_path):
        assert problems(f"results_dir: {tmp_path}/a/b/results") == ""
        assert problems("results_dir: results_$") == ""  # a lone $ is no variable


# --------------------------------------------------------------------------- 6. names


class TestExperimentNames:
    """Experiment names are folder names: YAML keys that are not strings are refused."""

    CASES = [
        ("integer", "experiments: {1: {family: delta}}", ["'experiments'", "key '1' is a number"]),
        (
            "float",
            "experiments: {1.5: {family: delta}}",
            ["'experiments'", "key '1.5' is a number"],
        ),
        ("hex", "experiments: {0x10: {family: delta}}", ["'experiments'", "key '16' is a number"]),
        ("null_tilde", "experiments: {~: {family: delta}}", ["'experiments'", "is null"]),
        ("null_word", "experiments:\n  null: {family: delta}", ["'experiments'", "is null"]),
        (
            "yes",
            "experiments: {yes: {family: delta}}",
            ["'experiments'", "'True' is a boolean", "yes, no"],
        ),
        ("off", "experiments: {off: {family: delta}}", ["'experiments'", "'False' is a boolean"]),
        (
            "date",
            "experiments: {2024-01-01: {family: delta}}",
            ["'experiments'", "'2024-01-01' is a date"],
        ),
    ]

    @battery(CASES)
    def test_refused(self, text, needles):
        msg = assert_refused(text, needles + ["experiment names are folder names"])
        assert "lower-case letter" in msg

    def test_bad_string_name_says_the_rule(self):
        assert_refused(
            "experiments: {'E 2': {family: delta}}", ["'E 2' does not match", "folder names"]
        )

    def test_repo_experiment_names_pass(self):
        names = [
            n
            for f in [ROOT / "config.yaml", *(ROOT / "configs").glob("*.yaml")]
            for n in yaml.safe_load(f.read_text())["experiments"]
        ]
        assert names and all(isinstance(n, str) for n in names)


# --------------------------------------------------------------------------- 7. family keys


class TestFamilyKeys:
    """A setting of one family, written in an experiment of another, is an error; the shared
    (top-level) one applies where it can."""

    CASES = [
        ("own_section", A + "figures: {training_delta: 0.5}}}",
         ["'experiments.a.figures.training_delta'", "only to delta", "this one is alignment"]),
        ("own_section_zero", A + "figures: {training_delta: 0}}}",
         ["'experiments.a.figures.training_delta'", "remove it"]),
        ("shared_without_delta_experiment", "figures: {training_delta: 0.5}\n" + A + "}}",
         ["'figures.training_delta'", "only to delta", "none is configured"]),
    ]  # fmt: skip

    @battery(CASES)
    def test_refused(self, text, needles):
        assert_refused(text, needles)

    def test_shared_setting_applies_to_its_family_only(self):
        text = (
            "figures: {training_delta: 0.5}\n"
            "experiments:\n"
            "  d: {family: delta, axes: {delta: [0.0, 0.5]}}\n"
            "  a: {family: alignment}\n"
        )
        assert problems(text) == ""

    def test_unknown_family_is_named_before_the_shared_setting(self):
        text = "figures: {training_delta: 0.5}\nexperiments: {d: {family: [delta]}}"
        msg = assert_refused(text, ["'experiments.d.family'", "allowed"])
        assert "training_delta" not in msg

    def test_explicit_null_is_harmless(self):
        assert problems(A + "figures: {training_delta: null}}}") == ""


# --------------------------------------------------------------------------- 8. sizes


def _numbers(n: int) -> str:
    return "[" + ", ".join(str(i / n) for i in range(n)) + "]"


class TestSizes:
    """Counts are checked before anything is expanded."""

    CASES = [
        ("alignments_huge", A + "axes: {alignments: 3e7}}}",
         ["'experiments.a.axes.alignments'", "maximum of 1000"]),
        ("task_seeds_count_huge", A + "axes: {task_seeds: 3e7}}}",
         ["'experiments.a.axes.task_seeds'", "a count n ≤ 100000"]),
        ("alignments_times_task_seeds", A + "activations: [tanh], "
         "axes: {alignments: 1000, task_seeds: 100000, k: [1]}}}",
         ["'experiments.a'", "100000000 runs", "at most 1000000"]),
        ("kernels_times_grid", A + "axes: {kernel: [maxdim, random], "
         "alignments: 1000, task_seeds: 10000, d: [3], k: [1]}}}",
         ["'experiments.a'", "40000000 runs"]),
        ("delta_times_sigma", D + f"axes: {{delta: {_numbers(3000)}, sigma: {_numbers(3000)}}}}}}}",
         ["'experiments.d'", "18000000 runs"]),
        ("delta_list_too_long", D + f"axes: {{delta: {_numbers(10001)}}}}}}}",
         ["'experiments.d.axes.delta'", "10001 items; at most 10000"]),
        ("activations_too_many", D + "activations: [" + ", ".join(
            f"relu_bias+{i}" for i in range(1, 1002)) + "]}}",
         ["'experiments.d.activations'", "at most 1000"]),
        ("align_list_too_long", A + "axes: {align: [" + ", ".join(["0"] * 1001) + "]}}}",
         ["'experiments.a.axes.align'", "at most 1000"]),
    ]  # fmt: skip

    @battery(CASES)
    def test_refused_quickly(self, text, needles):
        t0 = time.perf_counter()
        assert_refused(text, needles)
        assert time.perf_counter() - t0 < 5

    def test_count_without_expanding_equals_the_expansion(self):
        from repgeom.tasks import FAMILIES

        text = (
            "experiments:\n"
            "  a: {family: alignment, seeds: 2, activations: [tanh, relu, relu_bias+0],"
            " readouts: [gauss, sphere],"
            " axes: {d: [3, 4, 3.0], k: [1, d, 2, 3], kernel: [maxdim, random, maxdim],"
            " alignments: 3, align: [0, 2, 0], task_seeds: [1, 1.0, 4], sigma: [0, -0.0, 1]}}\n"
            "  d: {family: delta, axes: {delta: [0, -0.0, 0.5, 5e-1], sigma: [0.1, 1e-1]}}\n"
        )
        sweep = Sweep(resolved(text))
        for exp in sweep.experiments.values():
            fam = FAMILIES[exp.cfg["family"]]
            shared = (
                len(exp.cfg["architectures"])
                * len(exp.cfg["readouts"])
                * len(exp.axis_values("act"))
            )
            assert len(exp.axis_values("act")) < len(exp.cfg["activations"]) or exp.name == "d"
            assert len(exp.cells) == fam.count(exp.cfg["axes"]) * shared > 1
            assert exp.count_errors() == []


# --------------------------------------------------------------------------- 9. excerpts


class TestExcerpts:
    """A message quotes at most a short excerpt of a value, and lists a bounded number of
    problems."""

    CASES = [
        ("seed_list_too_long", D.replace("seeds: 1, ", "")
         + "seeds: [" + ", ".join(map(str, range(100001))) + "]}}",
         ["'experiments.d.seeds'", "100000"]),
        ("seed_list_one_bad", D.replace("seeds: 1, ", "")
         + "seeds: [" + ", ".join(map(str, range(5000))) + ", -1]}}",
         ["'experiments.d.seeds'", "item [5000]", "minimum of 0"]),
        ("long_unknown_key", "training: {" + "x" * 1000 + ": 1}", ["'training'", "unexpected"]),
        ("long_family", "experiments: {d: {family: " + "f" * 5000 + "}}",
         ["'experiments.d.family'", "allowed"]),
        ("long_activation", D + "activations: [" + "relu" * 2000 + "]}}",
         ["'experiments.d.activations[0]'"]),
        ("long_string_for_number", "training: {lr: " + "x" * 5000 + "}", ["'training.lr'"]),
        ("long_device", "training: {device: " + "c" * 5000 + "}", ["'training.device'", "'cuda'"]),
        ("long_protocol", "evaluation: {protocols: [" + "p" * 5000 + "]}",
         ["'evaluation.protocols[0]'"]),
    ]  # fmt: skip

    @battery(CASES)
    def test_message_is_short(self, text, needles):
        msg = assert_refused(text, needles)
        assert len(msg) < 1200, len(msg)

    def test_many_problems_are_listed_up_to_a_bound(self):
        text = D + "axes: {delta: [" + ", ".join(["-1"] * 100) + "]}}}"
        msg = assert_refused(text, ["experiments.d.axes.delta[0]", "and 80 more problems"])
        assert msg.count("\n  - ") == MAX_LISTED + 1

    def test_excerpt(self):
        assert excerpt(list(range(100000))).endswith("…") and len(excerpt(list(range(10**5)))) <= 80
        assert excerpt("x" * 1000) == repr("x" * 78)[:79] + "…"
        assert excerpt([1, 2]) == "[1, 2]" and excerpt({"a": 1}) == "{'a': 1}"


# --------------------------------------------------------------------------- Snakemake


def _dry_run(workdir: Path, configfile: Path, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        snakemake_cmd(workdir) + ["-n", "--configfile", str(configfile)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.workflow
class TestSnakemake:
    """The Snakefile reads Snakemake's config files again strictly."""

    def test_duplicate_key_stops_the_workflow(self, tmp_path):
        f = tmp_path / "dup.yaml"
        f.write_text(
            "experiments:\n  d: {family: delta, seeds: 1}\ntraining:\n  epochs: 3\n  epochs: 4\n"
        )
        proc = _dry_run(tmp_path, f)
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert f"config file {f}, line 5: key 'epochs' appears twice (first on line 4)" in text
        assert "Traceback" not in text

    def test_anchor_bomb_stops_the_workflow_quickly(self, tmp_path):
        f = tmp_path / "bomb.yaml"
        f.write_text(BOMB)
        t0 = time.perf_counter()
        proc = _dry_run(tmp_path, f)
        assert time.perf_counter() - t0 < 60
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0 and f"config file {f}, line 9" in text
        assert "Traceback" not in text

    def test_unset_variable_in_results_dir(self, tmp_path):
        f = tmp_path / "c.yaml"
        f.write_text(
            "results_dir: $REPGEOM_SURELY_UNSET_VAR/results\n"
            "experiments: {d: {family: delta, seeds: 1}}\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "REPGEOM_SURELY_UNSET_VAR"}
        proc = _dry_run(tmp_path, f, env)
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert "'results_dir'" in text and "REPGEOM_SURELY_UNSET_VAR" in text
        assert "Traceback" not in text
        assert not (tmp_path / "$REPGEOM_SURELY_UNSET_VAR").exists()


class TestShadowedOverrides:
    """A shared --config value that an experiment's own section overrides is reported."""

    EXPERIMENTS = {
        "delta": {"family": "delta", "training": {"epochs": 300, "snapshots": {"count": 8}}},
        "plain": {"family": "delta"},
    }

    def test_each_shadowing_experiment_is_named_with_the_key_to_set(self):
        from repgeom.config import shadowed_overrides

        out = shadowed_overrides({"training": {"epochs": 5}}, self.EXPERIMENTS)
        assert out == [
            "--config training.epochs=5 changes nothing in experiment 'delta': its own "
            "'experiments.delta.training.epochs' (300) wins. Set that key instead: "
            "--config 'experiments={delta: {training: {epochs: 5}}}'"
        ]

    def test_nested_keys_and_untouched_keys(self):
        from repgeom.config import shadowed_overrides

        out = shadowed_overrides(
            {"training": {"snapshots": {"count": 2}, "runs_per_job": 3}}, self.EXPERIMENTS
        )
        assert len(out) == 1 and "experiments.delta.training.snapshots.count' (8)" in out[0]
        # overrides the experiments leave alone, or of other top-level keys, work: no message
        assert shadowed_overrides({"training": {"runs_per_job": 3}}, self.EXPERIMENTS) == []
        assert shadowed_overrides({"results_dir": "x"}, self.EXPERIMENTS) == []
        assert shadowed_overrides({}, self.EXPERIMENTS) == []

    @pytest.mark.workflow
    def test_dry_run_reports_it(self, tmp_path):
        f = tmp_path / "c.yaml"
        f.write_text("experiments:\n  d: {family: delta, seeds: 1, training: {epochs: 3}}\n")
        proc = subprocess.run(
            snakemake_cmd(tmp_path)
            + ["-n", "--configfile", str(f), "--config", "training={epochs: 5}"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        text = proc.stdout + proc.stderr
        assert proc.returncode == 0, text
        assert "--config training.epochs=5 changes nothing in experiment 'd'" in text
