"""The Snakefile's parse-time decisions from Snakemake's resource settings (repgeom.cluster)."""

from repgeom.cluster import placeholder_errors, targets_cluster

PROFILE = ["mem_mb=2000", "slurm_partition=<your-partition>", "slurm_account='<your-account>'"]


def test_placeholders_are_named_with_the_file_and_the_fix():
    errors = placeholder_errors(PROFILE)
    assert len(errors) == 2
    assert "'slurm_partition' is still the placeholder '<your-partition>'" in errors[0]
    assert "profiles/slurm/config.v8+.yaml" in errors[0] and "--default-resources" in errors[0]
    assert "'<your-account>'" in errors[1]  # quotes around the value do not hide it
    rule = placeholder_errors([], {"train_x": ["slurm_partition=<your-gpu-partition>"]})
    assert len(rule) == 1 and "set-resources of rule train_x" in rule[0]
    assert placeholder_errors(["slurm_partition=gpu", "slurm_account=lab"]) == []
    assert placeholder_errors(None, None) == []


def test_a_run_targets_the_cluster_when_it_names_slurm_resources():
    assert targets_cluster(PROFILE)
    assert targets_cluster([], {"train_x": ["slurm_account=lab"]})
    assert targets_cluster(None, remote_exec=True)  # a job on the cluster
    assert not targets_cluster(None)
    assert not targets_cluster(["mem_mb=2000", "runtime=30"])
