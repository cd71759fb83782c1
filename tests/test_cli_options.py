"""The command line is generated from the option models: same names, same defaults; fast --help; plan-time checks."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from brainalign.alignment import ALIGNMENT_OPTIONS, alignment_options
from brainalign.cli import build_parser
from brainalign.cli import main as cli_main
from brainalign.cli._options import flag_name, model_fields, options_from_args
from brainalign.core import BrainalignInputError, Options
from brainalign.features import FEATURE_OPTIONS, InstructionOptions
from brainalign.localize import TaggingOptions
from brainalign.demo import DemoConfig
from brainalign.encoding import common_encoding_options, encoding_option_models
from brainalign.pipeline import ConfigError, StudyConfig, parse_config
from brainalign.recordings import RecordingFiles
from brainalign.similarity import RSAOptions
from brainalign.stimuli import StimulusFiles

# (command path, option model, fields that are not flags there)
EXPOSED = [
    (("extract", "text"), FEATURE_OPTIONS["text"], set()),
    (("extract", "video"), FEATURE_OPTIONS["video"], set()),
    (("extract", "audio"), FEATURE_OPTIONS["audio"], set()),
    (("encode",), RecordingFiles, set()),
    *[(("encode",), model, set()) for method, model in ALIGNMENT_OPTIONS.items() if method != "auto"],
    (("run",), StudyConfig.model_fields["execution"].annotation, {"jobqueue"}),  # a table: config only
    (("encode",), common_encoding_options(), set()),
    *[(("encode",), model, set()) for model in encoding_option_models().values()],
    (("demo",), DemoConfig, set()),
    (("tag",), TaggingOptions, set()),
]
#: option models that only a config file uses, and why
CONFIG_ONLY = {
    StimulusFiles: "extract takes the stimulus file itself (with --run and --shift)",
    ALIGNMENT_OPTIONS["auto"]: "encode has no dataset to take a default method from",
    InstructionOptions: "a study model's instruction_options table (instructions are a study axis)",
    RSAOptions: "a study's [rsa] table (RSA runs inside studies)",
}


def _subparser(parser: argparse.ArgumentParser, path) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _all_option_models() -> set:
    todo, found = list(Options.__subclasses__()), set()
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo += cls.__subclasses__()
    # models defined by the library (not by tests or doctests), with fields of their own
    return {m for m in found if m.__module__.startswith("brainalign.") and m.model_fields
            and not m.__name__.startswith("_")}


def test_every_option_model_is_exposed_or_config_only():
    # encoding models are rebuilt when an estimator is registered (tests register a toy one): the current
    # registry's models are the ones encode exposes (the flags are built from them when the parser is built)
    current = [common_encoding_options(), *encoding_option_models().values()]
    covered = {m.__name__ for m in [*(model for _, model, _ in EXPOSED), *CONFIG_ONLY, *current]}
    missing = sorted({m.__name__ for m in _all_option_models()} - covered)
    parser = _subparser(build_parser(), ("encode",))
    flags = {s for a in parser._actions for s in a.option_strings}
    assert all(flag_name(f) in flags or flag_name(f, "encoding") in flags for m in current for f in m.model_fields)
    assert not missing, f"option models without CLI flags (add them to a command or to CONFIG_ONLY): {missing}"


@pytest.mark.parametrize("path, model, skip", EXPOSED, ids=lambda x: "-".join(x) if isinstance(x, tuple) else None)
def test_cli_exposes_every_field_under_its_name_and_default(path, model, skip):
    parser = _subparser(build_parser(), path)
    by_flag = {s: a for a in parser._actions for s in a.option_strings}
    for name in model_fields(model):
        if name in skip:
            continue
        flag = _flag_of(by_flag, name)
        assert flag in by_flag, f"brainalign {' '.join(path)} has no {flag} for {model.__name__}.{name}"
    required = ["--files", "x.txt"] if path == ("encode",) else []
    # nothing given: the model's own defaults
    args = parser.parse_args(args_tail(path, required))
    built = options_from_args(args, model, extra=_tag(model))
    for name, (_, default, _) in model_fields(model).items():
        if name not in skip and default is not dataclasses.MISSING:
            assert getattr(built, name) == default, name
    # each default written on the command line reads back as the same value
    for name, (annotation, default, _) in model_fields(model).items():
        if name in skip or default in (None, [], {}, dataclasses.MISSING) or isinstance(default, dict):
            continue
        action = by_flag[_flag_of(by_flag, name)]
        if isinstance(action, argparse.BooleanOptionalAction):
            argv = [action.option_strings[0] if default else "--no-" + action.option_strings[0][2:]]
        elif isinstance(default, list):
            argv = [action.option_strings[0], *map(str, default)]
        else:
            argv = [f"{action.option_strings[0]}={default}"]
        again = parser.parse_args(argv + args_tail(path, required))
        assert getattr(model(**{**_tag(model), name: getattr(again, action.dest)}), name) == default, name


def _flag_of(by_flag: dict, name: str) -> str:
    """The option's flag: its own name, or ``--encoding-<name>`` where another table of encode uses the name."""
    flag = flag_name(name)
    if flag in by_flag and by_flag[flag].dest == name:
        return flag
    return flag_name(name, "encoding")


def args_tail(path, required):
    return (["input", "--model", "m"] * (path[0] == "extract") + required + ["-o", "out"] * (path[0] == "encode")
            + ["c.toml"] * (path[0] == "run") + ["--model", "m", "-o", "out"] * (path[0] == "tag"))


def _tag(model) -> dict:
    """The value that picks ``model`` in its tagged union (method, estimator), or a required field."""
    for tag in ("method", "estimator"):
        if tag in model_fields(model):
            return {tag: model.model_fields[tag].default}
    return {"files": ["x"]} if model is RecordingFiles else {}


def test_feature_option_models_match_the_extractors_signatures():
    from brainalign.features import extract_audio_features, extract_text_features, extract_video_features

    not_options = {"timeline", "model", "video", "audio", "sfreq", "cache_dir", "on_chunk", "times", "run", "fps",
                   "processor", "feature_extractor"}
    for modality, func in (("text", extract_text_features), ("video", extract_video_features),
                           ("audio", extract_audio_features)):
        params = {k: v.default for k, v in inspect.signature(func).parameters.items() if k not in not_options}
        fields = {k: f.default for k, f in FEATURE_OPTIONS[modality].model_fields.items()}
        assert params == fields, modality


def test_alignment_options_refuse_an_option_of_another_method():
    with pytest.raises(BrainalignInputError, match=r"'tmin' does not apply to method 'hrf' \(it is an option of "
                                                   r"lagged\)"):
        alignment_options({"method": "hrf", "tmin": -0.2})
    assert alignment_options({"method": "lagged", "tmin": -0.2}).tmax == 0.5
    # the same check in a study config, at load time
    with pytest.raises(ConfigError, match="'tmin' does not apply to method 'hrf'"):
        parse_config({"output": "o", "dataset": {"name": "alice_brennan2016"}, "models": [{"model": "gpt2"}],
                      "alignment": {"method": "hrf", "tmin": -0.2}})


def test_encoding_options_refuse_an_option_of_another_estimator():
    base = {"output": "o", "dataset": {"name": "alice_brennan2016"}, "models": [{"model": "gpt2"}]}
    with pytest.raises(ConfigError, match=r"key 'one_se' does not apply to estimator 'pcr' \(it is an option of "
                                          r"stacked\)"):
        parse_config({**base, "encoding": {"estimator": "pcr", "one_se": 0.5}})
    config = parse_config({**base, "encoding": {"estimator": "stacked", "one_se": 0.5, "alphas": "0,4,5"}})
    assert config.encoding_options() == {"estimator": "stacked", "one_se": 0.5, "alphas": "0,4,5"}
    # the command line refuses it the same way, before reading any file
    assert cli_main(["encode", "--designs", "a.npy", "--files", "r.txt", "--tr", "2", "--estimator", "pcr",
                     "--one-se", "0.5", "-o", "out"]) == 2


def test_every_config_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        parse_config({"output": "o", "dataset": {"name": "alice_brennan2016"}, "models": [{"model": "gpt2"}],
                      "features": {"pooling": "avg"}, "encoding": {"estimator": "pca", "cv": "loro"}})
    text = str(info.value)
    assert "'pooling' = 'avg'" in text and "'estimator' = 'pca'" in text and "'cv' = 'loro'" in text


def test_jobqueue_keys_are_checked_with_the_closest_spelling():
    base = {"output": "o", "dataset": {"name": "alice_brennan2016"}, "models": [{"model": "gpt2"}]}
    with pytest.raises(ConfigError, match=r"config \[execution.jobqueue\] unknown key 'memroy' \(did you mean "
                                          r"'memory'\?\)"):
        parse_config({**base, "execution": {"executor": "dask", "jobqueue": {"kind": "slurm", "cores": 1,
                                                                             "memroy": "4GB"}}})
    with pytest.raises(ConfigError, match="memory is required for kind 'slurm'"):
        parse_config({**base, "execution": {"jobqueue": {"kind": "slurm", "cores": 1}}})


def test_building_the_parser_and_help_imports_no_torch():
    code = ("import sys, contextlib, io\n"
            "from brainalign.cli import build_parser\n"
            "parser = build_parser()\n"
            "for argv in (['--help'], ['extract', 'text', '--help'], ['encode', '--help'], ['run', '--help'],\n"
            "             ['localize', '--help'], ['demo', '--help'], ['tag', '--help'], ['steer', '--help']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n"
            "            parser.parse_args(argv)\n"
            "        except SystemExit:\n"
            "            pass\n"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _read_only_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return folder / "out"
    folder.chmod(0o700)  # root writes anyway: take a folder that is read-only for root too
    for candidate in ("/sys", "/proc"):
        try:
            tempfile.TemporaryFile(dir=candidate).close()
        except OSError:
            return Path(candidate) / "brainalign-out"
    pytest.skip("no read-only folder on this machine")


def test_dry_run_lists_a_bad_value_a_missing_model_and_a_read_only_output(tmp_path, capsys):
    out = _read_only_folder(tmp_path)
    config = {"output": str(out), "stimulus": {"words": "words.tsv"},
              "recording": {"files": ["rois.txt"], "tr": 2.0},
              "models": [{"model": str(tmp_path / "no-such-model")}],
              "features": {"pooling": "avg"}}
    (tmp_path / "words.tsv").write_text("token\tonset\nhi\t0.0\n")
    (tmp_path / "rois.txt").write_text("1 2\n3 4\n")
    (tmp_path / "study.json").write_text(json.dumps(config))
    assert cli_main(["run", str(tmp_path / "study.json"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "3 problems" in err
    assert "'pooling' = 'avg'" in err
    assert f"{tmp_path / 'no-such-model'} does not exist" in err
    assert f"output folder {out}" in err and ("read-only" in err or "not writable" in err
                                             or "cannot be written" in err)
    assert "Traceback" not in err


def test_extract_accepts_the_bundled_model_and_a_shift(tmp_path, capsys):
    from brainalign.features import load_features

    story = tmp_path / "story.tsv"
    story.write_text("token\tonset\toffset\nOnce\t20.0\t20.3\nupon\t20.4\t20.7\n")
    out = tmp_path / "features"
    assert cli_main(["-q", "extract", "text", str(story), "--model", "bundled:all-MiniLM-L6-v2", "--shift=-20",
                     "--layers", "layer.0", "--context-tokens", "8", "--future-context", "-o", str(out)]) == 0
    fs = load_features(capsys.readouterr().out.strip().splitlines()[-1])
    assert fs.timeline.onsets.tolist() == pytest.approx([0.0, 0.4])
    assert fs.timeline.run_ids == ["run-1"]  # the run label brainalign encode gives a recording's first run
    assert fs.layer_names == ["layer.0"]


def test_a_wrong_flag_value_names_the_flag(capsys):
    with pytest.raises(SystemExit):  # argparse refuses a value outside the model's choices
        build_parser().parse_args(["extract", "text", "s.txt", "--model", "m", "--pooling", "avg"])
    assert "invalid choice: 'avg'" in capsys.readouterr().err


def test_set_log_level_switches_brainalign_logging():
    import logging

    import brainalign

    brainalign.set_log_level("warning")
    assert logging.getLogger("brainalign").getEffectiveLevel() == logging.WARNING
    brainalign.set_log_level("info")
    assert logging.getLogger("brainalign").getEffectiveLevel() == logging.INFO


def test_a_bidirectional_model_without_future_context_gets_a_hint(caplog):
    from brainalign import Timeline
    from brainalign.features import extract_text_features

    timeline = Timeline(["The", "cat", "sat"], [0.0, 0.3, 0.6])
    with caplog.at_level("WARNING", logger="brainalign"):
        extract_text_features(timeline, "bundled:all-MiniLM-L6-v2", layers=["layer.0"], context_tokens=4,
                              device="cpu")
    assert any("is bidirectional" in r.getMessage() and "future_context=True" in r.getMessage()
               for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="brainalign"):
        extract_text_features(timeline, "bundled:all-MiniLM-L6-v2", layers=["layer.0"], context_tokens=4,
                              device="cpu", future_context=True)
    assert not any("is bidirectional" in r.getMessage() for r in caplog.records)


def test_execution_timeouts_are_durations_checked_when_the_config_is_read():
    base = {"output": "o", "dataset": {"name": "alice_brennan2016"}, "models": [{"model": "gpt2"}]}
    config = parse_config({**base, "execution": {"lock_timeout": "5 min", "no_workers_timeout": 90}})
    assert (config.execution.lock_timeout, config.execution.no_workers_timeout) == ("5 min", 90)
    with pytest.raises(ConfigError, match="lock_timeout.*cannot read 'soon' as a duration"):
        parse_config({**base, "execution": {"lock_timeout": "soon"}})


def test_a_worker_thread_can_reread_a_config_with_a_jobqueue_table():
    # tasks re-read the study's config inside Dask worker threads (SLURM workers too), in processes that
    # never imported dask-jobqueue, whose import may only set its SIGINT handler on the main thread
    import subprocess
    import sys

    script = (
        "import threading\n"
        "from brainalign.pipeline import parse_config\n"
        "config = {'output': 'o', 'dataset': {'name': 'alice_brennan2016'}, 'models': [{'model': 'gpt2'}],\n"
        "          'execution': {'executor': 'dask', 'jobqueue': {'kind': 'slurm', 'jobs': 1, 'cores': 1, 'memory': '1GB'}}}\n"
        "outcome = []\n"
        "worker = threading.Thread(target=lambda: outcome.append(parse_config(config).execution.jobqueue['kind']))\n"
        "worker.start(); worker.join()\n"
        "assert outcome == ['slurm'], outcome\n"
        "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
