"""Study configs: every key of every section checked, typos named with their closest valid spelling."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from brainalign.cli import main as cli_main
from brainalign.pipeline import ConfigError, load_config, parse_config, plan_study

BASE = {"output": "out", "dataset": {"name": "alice_brennan2016"}, "models": [{"model": "gpt2"}]}


def _with(**sections):
    config = json.loads(json.dumps(BASE))
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(name), dict):
            config[name].update(value)
        else:
            config[name] = value
    return config


@pytest.mark.parametrize("sections, message", [
    ({"encoding": {"alpha": [1.0]}}, r"config \[encoding\]: unknown key 'alpha' \(did you mean 'alphas'\?\)"),
    ({"features": {"context_token": 12}},
     r"config \[features\]: unknown key 'context_token' \(did you mean 'context_tokens'\?\)"),
    ({"dataset": {"subject": ["s18"]}}, r"config \[dataset\]: unknown key 'subject' \(did you mean 'subjects'\?\)"),
    ({"models": [{"modle": "gpt2"}]}, r"config \[models\[0\]\]: unknown key 'modle' \(did you mean 'model'\?\)"),
    ({"models": [{"model": "gpt2", "options": {"poling": "mean"}}]},
     r"config \[models\[0\]\.options\]: unknown key 'poling' \(did you mean 'pooling'\?\)"),
    ({"execution": {"executer": "dask"}}, r"config \[execution\]: unknown key 'executer' \(did you mean 'executor'\?\)"),
    ({"alignment": {"hrf": "glover"}}, r"config \[alignment\]: unknown key 'hrf' \(did you mean 'hrf_model'\?\)"),
    ({"baseline": {"wordrate": True}}, r"config \[baseline\]: unknown key 'wordrate' \(did you mean 'word_rate'\?\)"),
    ({"ouput": "x"}, r"config top level: unknown key 'ouput' \(did you mean 'output'\?\)"),
    ({"encoding": {"inner_cv": "five"}}, r"config \[encoding\]: key 'inner_cv' = 'five': .*integer"),
    ({"execution": {"executor": "spark"}}, r"config \[execution\]: key 'executor' = 'spark': .*'sequential' or 'dask'"),
    ({"models": []}, r"no model"),
    ({"models": [{"model": "a"}, {"model": "a"}]}, r"distinct names.*'a'"),
    ({"dataset": {"per_subject": False}}, r"nothing would be fitted"),
])
def test_typos_and_wrong_types_name_the_key_and_section(sections, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(_with(**sections))


def test_valid_keys_are_listed_with_the_error():
    with pytest.raises(ConfigError) as err:
        parse_config(_with(encoding={"folds": 3}))
    text = str(err.value)
    assert "valid keys:" in text and "inner_cv" in text and "estimator" in text and "gain_bootstraps" in text


def test_dataset_options_and_names_are_checked_when_planning(tmp_path):
    config = parse_config(_with(dataset={"name": "alice_brenan2016"}), base_dir=tmp_path)
    with pytest.raises(Exception, match=r"unknown dataset 'alice_brenan2016' \(did you mean 'alice_brennan2016'\?\)"):
        plan_study(config)
    config = parse_config(_with(dataset={"options": {"resolutoin": "6mm"}}), base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"\[dataset\.options\]: unknown key 'resolutoin' \(did you mean 'resolution'"):
        plan_study(config)


def test_toml_and_json_syntax_errors_give_file_line_and_column(tmp_path):
    bad = tmp_path / "study.toml"
    bad.write_text('output = "out"\n[dataset]\nname = "alice_brennan2016\n')
    with pytest.raises(ConfigError, match=r"study\.toml: TOML syntax error: .*line 3, column \d+"):
        load_config(bad)
    bad_json = tmp_path / "study.json"
    bad_json.write_text('{"output": "out",\n "dataset": {"name": }}')
    with pytest.raises(ConfigError, match=r"study\.json: JSON syntax error at line 2, column 22"):
        load_config(bad_json)
    (tmp_path / "study.yaml").write_text("output: out\n")
    with pytest.raises(ConfigError, match="must be .json or .toml"):
        load_config(tmp_path / "study.yaml")
    with pytest.raises(ConfigError, match="No such config file"):
        load_config(tmp_path / "missing.toml")


def test_cli_prints_one_line_and_exits_2_on_user_errors(tmp_path):
    bad = tmp_path / "study.toml"
    bad.write_text('output = "out"\n[dataset]\nname = "alice_brennan2016"\n[[models]]\nmodel = "x"\n'
                   '[encoding]\nalpha = 3\n')
    proc = subprocess.run([sys.executable, "-m", "brainalign.cli", "run", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown key 'alpha' (did you mean 'alphas'?)" in proc.stderr
    assert "Traceback" not in proc.stderr
    with pytest.raises(ConfigError):
        cli_main(["--debug", "run", str(bad)])


def test_old_single_model_form_is_a_one_model_study(tmp_path):
    config = parse_config({"output": "out", "stimulus": {"words": "w.tsv"}, "recording": {"files": ["r.txt"]},
                           "features": {"model": "gpt2", "context_tokens": 8, "cache_dir": "cache"}})
    assert [m.model for m in config.models] == ["gpt2"] and config.dataset.name == "files"
    assert config.cache_dir == "cache" and config.features == {"context_tokens": 8}


def test_jobqueue_section_builds_a_slurm_job_script():
    from brainalign.pipeline._execute import jobqueue_cluster

    config = parse_config(_with(execution={"executor": "dask", "jobqueue": {
        "kind": "slurm", "jobs": 4, "cores": 8, "memory": "32GB", "queue": "normal", "walltime": "04:00:00",
        "scheduler_options": {"host": "127.0.0.1"}}}))
    cluster = jobqueue_cluster(config.execution.jobqueue)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p normal" in script and "--cpus-per-task=8" in script and "#SBATCH -t 04:00:00" in script
    with pytest.raises(ConfigError, match="jobqueue. kind must be one of"):
        parse_config(_with(execution={"jobqueue": {"kind": "mesos"}}))


def test_readme_study_is_the_shipped_example_and_plans(shared_data, tmp_path):
    import re

    from conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", readme, re.S).group(1)
    example = REPO_ROOT / "examples" / "alice_study.toml"
    shipped = "\n".join(line for line in example.read_text().splitlines()
                        if line.strip() and not line.startswith("#"))
    shipped = re.sub(r"\s+#.*", "", shipped)
    assert block.split() == shipped.split()
    config = load_config(example)
    plan = plan_study(config, output=tmp_path / "out")
    counts = plan.counts()
    assert len(plan.subjects) == 13 and "s33" not in plan.subjects
    assert counts["features"]["tasks"] == 2 and counts["fit"]["tasks"] == (7 + 7) * 14
    assert config.execution.executor == "dask"
