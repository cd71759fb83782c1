"""Studies: one config -> models x layers x subjects of a dataset, as resumable tasks on any executor.

This is the top of the house: it may import every stage, and no stage imports
it.  A study config (TOML or JSON, see :func:`load_config`) is planned into
content-addressed tasks (:func:`plan_study`) that run in this process or on
Dask (:func:`run_study`); results land in one LayerSweep folder per model and
subject plus a tidy study table (:class:`StudyResults`).  Datasets enter
through one adapter interface (:class:`~brainalign.datasets.DatasetAdapter`).
"""

# DatasetAdapter and SubjectData are the datasets stage's (documented there); re-exported for study code
from ._adapters import DatasetAdapter, SubjectData, get_adapter, list_adapters, register_adapter
from ._check import check_study, study_problems
from ._config import ConfigError, ModelSpec, StudyConfig, load_config, option_model, parse_config
from ._execute import ExecutorError, StudyInterrupted, StudyRun, dask_client, run_study, validate_jobqueue_options
from ._pipeline import run_pipeline
from ._plan import StudyPlan, Task, plan_study
from ._results import StudyResults

__all__ = [
    "check_study",
    "study_problems",
    "ConfigError",
    "ExecutorError",
    "ModelSpec",
    "StudyConfig",
    "StudyPlan",
    "StudyResults",
    "StudyInterrupted",
    "StudyRun",
    "Task",
    "dask_client",
    "get_adapter",
    "list_adapters",
    "load_config",
    "option_model",
    "parse_config",
    "plan_study",
    "register_adapter",
    "run_pipeline",
    "run_study",
    "validate_jobqueue_options",
]
