"""Ablate selected units and measure what the model loses (localized vs random units)."""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from .._logging import progress_disabled
from ..core import BrainalignInputError, load_json, save_json
from ._mask import UnitMask, random_unit_mask
from ._minimal_pairs import MinimalPair
from ._units import backbone, check_length, encode_texts, pad_token_id, silence_units, unit_sites

logger = logging.getLogger("brainalign.localize")

__all__ = ["DeficitReport", "ablate_units", "has_lm_head", "lm_scoring_method", "measure_deficit", "pooled_outputs",
           "sequence_logprobs"]

#: scorings that read text probabilities through a real language-model head
_LM_HEAD_SCORINGS = ("causal", "pseudo_log_likelihood")
#: metrics computed from token probabilities (meaningless in absolute terms without an LM head)
LM_METRICS = ("loss", "perplexity", "minimal_pair_accuracy")


def _site_width(model, site, unit_type: str) -> int:
    from ..features._hooks import _linear_dims, hidden_size

    if unit_type == "residual":
        return hidden_size(model)
    return _linear_dims(site.module)[0]


@contextmanager
def ablate_units(model, mask: UnitMask, mode: str = "zero", means: Mapping[str, np.ndarray] | None = None) -> Iterator[Any]:
    """Silence the units of ``mask`` at every token while the block is active.

    Parameters
    ----------
    model : transformers model
        The model the mask was made on (same unit type, layers and widths).
    mask : UnitMask
    mode : {"zero", "mean"}
        Set the units to 0, or to their mean activation (``means``, else
        ``mask.unit_means``: the mean over all localizer stimulus tokens).
    means : mapping layer -> ndarray, optional

    Examples
    --------
    >>> with ablate_units(model, mask):  # doctest: +SKIP
    ...     loss = model(**batch, labels=batch["input_ids"]).loss
    """
    if mode not in ("zero", "mean"):
        raise BrainalignInputError(f"mode must be 'zero' or 'mean', got {mode!r}.")
    unit_type = mask.params.get("unit_type", "residual")
    sites = unit_sites(model, unit_type)
    site_layers = [s.layer for s in sites]
    if site_layers != mask.layers:
        raise BrainalignInputError(
            f"The mask has layers {mask.layers} but the model has {site_layers}: it was made on another model."
        )
    for site in sites:
        width = _site_width(model, site, unit_type)
        if width != mask.mask[site.layer].size:
            raise BrainalignInputError(
                f"{site.layer}: the mask has {mask.mask[site.layer].size} {unit_type} units but the model has {width}."
            )
    index = mask.indices
    if mode == "zero":
        values = {layer: np.zeros(idx.size) for layer, idx in index.items()}
    else:
        means = means if means is not None else mask.unit_means
        if means is None:
            raise BrainalignInputError("mode='mean' needs means= or a mask that stores unit_means.")
        missing = [layer for layer in mask.layers if layer not in means]
        if missing:
            raise BrainalignInputError(f"means lacks layer(s) {missing}.")
        values = {layer: np.asarray(means[layer], dtype=np.float64)[idx] for layer, idx in index.items()}
    with silence_units(sites, index, values):
        yield model


# ------------------------------------------------------------------- scoring
def lm_scoring_method(model) -> str:
    """How :func:`sequence_logprobs` scores text with ``model``.

    * ``"causal"``: next-token log-probabilities from the LM head;
    * ``"pseudo_log_likelihood"``: masked LM with a head; each content token is
      masked in turn and scored (Salazar et al. 2020);
    * ``"causal_tied_readout"`` / ``"pll_tied_readout"``: a bare model without
      an LM head (e.g. sentence-transformers MiniLM): the last hidden state is
      read out through the transposed input-embedding matrix (the tied head of
      BERT/GPT-2 without its transform and bias).  Absolute losses of this
      readout are large; use it for *differences* between ablations only.
    """
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    name = type(model).__name__
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", "")
    has_head = name.endswith(("ForCausalLM", "LMHeadModel", "ForMaskedLM", "ForPreTraining"))
    if has_head:
        return "causal" if name.endswith(("ForCausalLM", "LMHeadModel")) else "pseudo_log_likelihood"
    masked = model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES and not getattr(config, "is_decoder", False)
    return "pll_tied_readout" if masked else "causal_tied_readout"


def has_lm_head(model) -> bool:
    """Whether ``model`` predicts tokens through a trained language-model head.

    Models without one (e.g. sentence-transformers MiniLM, a bare
    ``GPT2Model``) are scored through a tied-embedding readout whose loss and
    perplexity are far from any real LM's (MiniLM: loss ~10.8 nats,
    "perplexity" ~50 000): :func:`measure_deficit` flags those rows.

    Examples
    --------
    >>> from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model
    >>> cfg = GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=20)
    >>> has_lm_head(GPT2LMHeadModel(cfg)), has_lm_head(GPT2Model(cfg))
    (True, False)
    """
    return lm_scoring_method(model) in _LM_HEAD_SCORINGS


def _logits(model, method: str, input_ids, attention_mask):
    if method in ("causal", "pseudo_log_likelihood"):
        return model(input_ids=input_ids, attention_mask=attention_mask).logits
    hidden = backbone(model)(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return hidden @ model.get_input_embeddings().weight.T


def sequence_logprobs(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    batch_size: int = 8,
    max_tokens: int | None = 128,
    method: str | None = None,
) -> list[np.ndarray]:
    """Log-probability (nats) of every scored content token of each text.

    Causal scoring skips the first token of a sequence (no context); masked
    scoring scores every content token.  See :func:`lm_scoring_method`.
    """
    import torch

    method = method or lm_scoring_method(model)
    device = next(model.parameters()).device
    pad = pad_token_id(tokenizer)
    out: list[np.ndarray] = []
    texts = list(texts)
    with torch.inference_mode():
        if method in ("causal", "causal_tied_readout"):
            for start in range(0, len(texts), batch_size):
                batch = encode_texts(tokenizer, texts[start : start + batch_size], max_tokens, pad)
                check_length(model, batch, "text")
                ids, att = batch.input_ids.to(device), batch.attention_mask.to(device)
                logp = torch.log_softmax(_logits(model, method, ids, att).float(), dim=-1)
                token_lp = logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]
                scored = batch.content[:, 1:].to(device)
                for b in range(ids.shape[0]):
                    out.append(token_lp[b][scored[b]].cpu().numpy().astype(np.float64))
        else:
            mask_id = getattr(tokenizer, "mask_token_id", None)
            if mask_id is None:
                raise BrainalignInputError("Masked-LM scoring needs a tokenizer with a mask token.")
            for text in texts:
                batch = encode_texts(tokenizer, [text], max_tokens, pad)
                check_length(model, batch, "text")
                positions = torch.nonzero(batch.content[0]).flatten()
                ids = batch.input_ids.repeat(len(positions), 1)
                ids[torch.arange(len(positions)), positions] = int(mask_id)
                target = batch.input_ids[0, positions]
                values = []
                for start in range(0, len(positions), max(batch_size, 1) * 4):
                    sl = slice(start, start + max(batch_size, 1) * 4)
                    chunk = ids[sl].to(device)
                    att = batch.attention_mask.repeat(chunk.shape[0], 1).to(device)
                    rows = torch.arange(chunk.shape[0], device=device)
                    pos = positions[sl].to(device)
                    if method == "pll_tied_readout":  # read out only the masked position of each copy
                        hidden = backbone(model)(input_ids=chunk, attention_mask=att).last_hidden_state[rows, pos]
                        logits = hidden @ model.get_input_embeddings().weight.T
                    else:
                        logits = _logits(model, method, chunk, att)[rows, pos]
                    logp = torch.log_softmax(logits.float(), dim=-1)
                    values.append(logp[rows, target[sl].to(device)].cpu().numpy())
                out.append(np.concatenate(values).astype(np.float64))
    return out


def pooled_outputs(model, tokenizer, texts: Sequence[str], *, batch_size: int = 8,
                   max_tokens: int | None = 128) -> np.ndarray:
    """Mean over content tokens of the model's last hidden state (sentence-embedding style)."""
    import torch

    device = next(model.parameters()).device
    pad = pad_token_id(tokenizer)
    rows = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = encode_texts(tokenizer, texts[start : start + batch_size], max_tokens, pad)
            check_length(model, batch, "text")
            hidden = backbone(model)(input_ids=batch.input_ids.to(device),
                                     attention_mask=batch.attention_mask.to(device)).last_hidden_state.float()
            weights = batch.content.to(device).float()[..., None]
            rows.append(((hidden * weights).sum(1) / weights.sum(1)).cpu().numpy().astype(np.float64))
    return np.concatenate(rows, axis=0)


def _score_items(model, tokenizer, texts, pairs, batch_size, max_tokens, method, metrics) -> dict[str, np.ndarray]:
    scores: dict[str, np.ndarray] = {}
    if texts and "representation_shift" in metrics:
        scores["embedding"] = pooled_outputs(model, tokenizer, texts, batch_size=batch_size, max_tokens=max_tokens)
    if texts and "loss" in metrics:
        lps = sequence_logprobs(model, tokenizer, texts, batch_size=batch_size, max_tokens=max_tokens, method=method)
        scores["nll_sum"] = np.array([-lp.sum() for lp in lps])
        scores["n_tokens"] = np.array([lp.size for lp in lps], dtype=float)
    if pairs and "minimal_pairs" in metrics:
        good = sequence_logprobs(model, tokenizer, [p.good for p in pairs], batch_size=batch_size,
                                 max_tokens=max_tokens, method=method)
        bad = sequence_logprobs(model, tokenizer, [p.bad for p in pairs], batch_size=batch_size,
                                max_tokens=max_tokens, method=method)
        scores["pair_correct"] = np.array([g.sum() > b.sum() for g, b in zip(good, bad)], dtype=float)
    return scores


def _metrics(scores: Mapping[str, np.ndarray], index: np.ndarray | None = None,
             pair_index: np.ndarray | None = None) -> dict[str, float]:
    out = {}
    if "nll_sum" in scores:
        nll, n = scores["nll_sum"], scores["n_tokens"]
        if index is not None:
            nll, n = nll[index], n[index]
        loss = float(nll.sum() / max(n.sum(), 1.0))
        out["loss"] = loss
        out["perplexity"] = float(np.exp(min(loss, 700.0)))
    if "pair_correct" in scores:
        c = scores["pair_correct"] if pair_index is None else scores["pair_correct"][pair_index]
        out["minimal_pair_accuracy"] = float(c.mean())
    if "shift" in scores:
        out["representation_shift"] = float(scores["shift"].mean() if index is None else scores["shift"][index].mean())
    return out


#: sign that turns "value - intact" into a deficit (positive = the model got worse)
_WORSE_SIGN = {"loss": 1.0, "perplexity": 1.0, "minimal_pair_accuracy": -1.0, "representation_shift": 1.0}
METRICS = ("loss", "minimal_pairs", "representation_shift")


@dataclass(eq=False)
class DeficitReport:
    """What ablating localized units costs, compared with random units of the same size.

    Attributes
    ----------
    values : DataFrame
        Every measured value: ``condition`` (``intact``, ``localized``,
        ``random``), ``seed`` (-1 unless random), ``task`` (metric), ``value``.
    deficits : DataFrame
        Localized and random rows only, with ``deficit`` = change in the
        metric, signed so that positive means worse (loss up, accuracy down).
        Columns ``task``, ``condition``, ``seed``, ``value``, ``deficit`` (the
        format :func:`brainalign.plotting.plot_deficit` takes).
    summary : DataFrame
        One row per task: ``intact``, ``localized_deficit``,
        ``random_deficit_mean``, its ``random_ci_low``/``high`` (t interval
        over random seeds), ``difference`` (localized - mean random) with
        ``difference_ci_low``/``high`` (bootstrap over texts / pairs, seeds
        fixed), ``p_random`` = (1 + #random >= localized) / (1 + #random),
        ``p_random_min`` = 1 / (1 + #random), the smallest ``p_random`` the
        number of random seeds allows (5 seeds: 0.167, never "p < 0.05"),
        and ``lm_head``: False on the LM-metric rows (``loss``,
        ``perplexity``, ``minimal_pair_accuracy``) of a model without a
        language-model head, whose absolute values are not those of a
        language model (read differences between ablations only).
    params : dict
        Also ``lm_head`` and ``p_random_min``.
    """

    values: pd.DataFrame
    deficits: pd.DataFrame
    summary: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: str | Path) -> Path:
        """Write ``tables/deficits.tsv``, ``tables/deficit_summary.tsv``, ``tables/deficit_values.tsv``."""
        from ..core import atomic_write_text

        directory = Path(directory)
        atomic_write_text(directory / "tables" / "deficits.tsv", self.deficits.to_csv(sep="\t", index=False))
        atomic_write_text(directory / "tables" / "deficit_summary.tsv", self.summary.to_csv(sep="\t", index=False))
        atomic_write_text(directory / "tables" / "deficit_values.tsv", self.values.to_csv(sep="\t", index=False))
        save_json(directory / "deficit.json", {"params": self.params})
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "DeficitReport":
        directory = Path(directory)
        read = lambda name: pd.read_csv(directory / "tables" / name, sep="\t")  # noqa: E731
        return cls(read("deficit_values.tsv"), read("deficits.tsv"), read("deficit_summary.tsv"),
                   load_json(directory / "deficit.json")["params"])

    def notes(self) -> list[str]:
        """Plain-language caveats of the table: p-value resolution, LM metrics without an LM head."""
        n = int(self.params.get("n_random_seeds", 0))
        p_min = self.params.get("p_random_min", 1.0 / (n + 1) if n else float("nan"))
        needed = int(np.ceil(1 / 0.05)) - 1
        out = [f"p_random cannot go below 1/({n}+1) = {p_min:.3g} with {n} random unit sets"
               + (f"; use at least {needed} random seeds for p_random < 0.05." if n < needed else ".")]
        if not self.params.get("lm_head", True):
            out.append(f"The model has no language-model head (scoring {self.params.get('scoring')!r}): loss, "
                       "perplexity and minimal-pair accuracy come from a tied-embedding readout; their absolute "
                       "values are not a language model's; compare ablations with each other only "
                       "(rows with lm_head = False). representation_shift needs no head.")
        return out

    def describe(self) -> str:
        """The summary table followed by its :meth:`notes` (what ``brainalign ablate`` prints)."""
        return "\n".join([self.summary.to_string(index=False), *("Note: " + n for n in self.notes())])

    def __repr__(self) -> str:
        rows = ", ".join(f"{r.task}: {r.localized_deficit:+.3g} vs {r.random_deficit_mean:+.3g}"
                         for r in self.summary.itertuples())
        return f"DeficitReport(localized vs random: {rows})"


def measure_deficit(
    model,
    mask: UnitMask,
    texts: Sequence[str] | None = None,
    minimal_pairs: Sequence[MinimalPair] | None = None,
    *,
    tokenizer,
    n_random_seeds: int = 5,
    mode: str = "zero",
    match: str = "per_layer",
    batch_size: int = 8,
    max_tokens: int | None = 128,
    ci: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
    metrics: Sequence[str] = METRICS,
    on_no_lm_head: str = "warn",
) -> DeficitReport:
    """Ablate the localized units, then ``n_random_seeds`` random same-size sets; compare.

    Measures next-token loss (nats/token) and perplexity on ``texts`` and
    accuracy on ``minimal_pairs`` (good sentence more probable than bad) for
    the intact model, the localized ablation and each random control
    (:func:`random_unit_mask` with seeds ``seed .. seed + n_random_seeds - 1``).
    Masked LMs are scored by pseudo-log-likelihood; models without an LM head
    by a tied-embedding readout (see :func:`lm_scoring_method`).  The
    ``representation_shift`` metric needs no LM head at all: ``1 - cosine``
    between the intact and the ablated model's mean-pooled last hidden state
    of each text (its sentence embedding), averaged over texts (0 when
    intact) -- the measure to read for encoders such as sentence-transformers,
    whose last layer no longer predicts tokens.

    Parameters
    ----------
    metrics : sequence of {"loss", "minimal_pairs", "representation_shift"}
        What to measure (``loss`` also reports ``perplexity``).
    on_no_lm_head : {"warn", "raise"}
        For a model without a language-model head (:func:`has_lm_head`) and
        an LM metric asked for: warn and flag those rows (``lm_head=False``
        in the summary), or refuse with an error.
    n_random_seeds : int
        Random unit sets of the control; ``p_random`` cannot go below
        ``1 / (n_random_seeds + 1)`` (column ``p_random_min``): 19 seeds for
        p < 0.05.

    Returns
    -------
    DeficitReport

    Examples
    --------
    >>> report = measure_deficit(model, mask, builtin_heldout_texts(), builtin_minimal_pairs(),
    ...                          tokenizer=tok)  # doctest: +SKIP
    >>> report.summary[["task", "localized_deficit", "random_deficit_mean"]]  # doctest: +SKIP
    """
    from scipy import stats
    from tqdm.auto import tqdm

    texts = list(texts or [])
    pairs = list(minimal_pairs or [])
    if not texts and not pairs:
        raise BrainalignInputError("measure_deficit needs held-out texts and/or minimal pairs.")
    if any(not isinstance(p, MinimalPair) for p in pairs):
        raise BrainalignInputError("minimal_pairs must be MinimalPair objects (see load_blimp_jsonl).")
    if n_random_seeds < 2:
        raise BrainalignInputError(f"n_random_seeds must be >= 2 for an interval, got {n_random_seeds}.")
    metrics = tuple(metrics)
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown or not metrics:
        raise BrainalignInputError(f"metrics must be a non-empty subset of {METRICS}, got {list(metrics)}.")
    if mask.n_selected == 0:
        raise BrainalignInputError("The mask selects no unit: nothing to ablate.")
    if on_no_lm_head not in ("warn", "raise"):
        raise BrainalignInputError(f"on_no_lm_head must be 'warn' or 'raise', got {on_no_lm_head!r}.")
    method = lm_scoring_method(model)
    lm_head = method in _LM_HEAD_SCORINGS
    asks_lm = [m for m in metrics if m in ("loss", "minimal_pairs")]
    if not lm_head and asks_lm:
        message = (f"{type(model).__name__} has no language-model head: {', '.join(asks_lm)} are scored through a "
                   f"tied-embedding readout ({method}), whose absolute loss/perplexity are not a language model's "
                   "(read differences between ablations only); metrics=['representation_shift'] needs no head.")
        if on_no_lm_head == "raise":
            raise BrainalignInputError(message + " Pass on_no_lm_head='warn' to measure them anyway.")
        warnings.warn(message, UserWarning, stacklevel=2)
        logger.warning(message)
    was_training = model.training
    model.eval()
    conditions: list[tuple[str, int, UnitMask | None]] = [("intact", -1, None), ("localized", -1, mask)]
    conditions += [("random", seed + s, random_unit_mask(mask, seed + s, match=match)) for s in range(n_random_seeds)]
    item_scores: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    try:
        for condition, s, m in tqdm(conditions, desc="ablations", disable=progress_disabled(), leave=False):
            if m is None:
                item_scores[(condition, s)] = _score_items(model, tokenizer, texts, pairs, batch_size, max_tokens, method,
                                                          metrics)
            else:
                with ablate_units(model, m, mode=mode):
                    item_scores[(condition, s)] = _score_items(model, tokenizer, texts, pairs, batch_size,
                                                               max_tokens, method, metrics)
    finally:
        model.train(was_training)
    if "embedding" in item_scores[("intact", -1)]:
        ref = item_scores[("intact", -1)]["embedding"]
        for sc in item_scores.values():
            emb = sc["embedding"]
            cos = (emb * ref).sum(1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(ref, axis=1) + 1e-12)
            sc["shift"] = 1.0 - cos

    rows = [{"condition": c, "seed": s, "task": task, "value": value}
            for (c, s), sc in item_scores.items() for task, value in _metrics(sc).items()]
    values = pd.DataFrame(rows)
    intact = values[values.condition == "intact"].set_index("task")["value"]
    deficits = values[values.condition != "intact"].copy()
    deficits["deficit"] = [(_WORSE_SIGN[t] * (v - intact[t])) for t, v in zip(deficits.task, deficits.value)]
    deficits = deficits[["task", "condition", "seed", "value", "deficit"]].reset_index(drop=True)

    rng = np.random.default_rng(seed)
    boot_idx = rng.integers(0, max(len(texts), 1), size=(n_bootstrap, max(len(texts), 1))) if texts else None
    boot_pair = rng.integers(0, max(len(pairs), 1), size=(n_bootstrap, max(len(pairs), 1))) if pairs else None
    random_keys = [(c, s) for (c, s) in item_scores if c == "random"]
    summary_rows = []
    for task in intact.index:
        loc = float(deficits[(deficits.task == task) & (deficits.condition == "localized")].deficit.iloc[0])
        rnd = deficits[(deficits.task == task) & (deficits.condition == "random")].deficit.to_numpy()
        half = stats.t.ppf(0.5 + ci / 2, rnd.size - 1) * rnd.std(ddof=1) / np.sqrt(rnd.size)
        diffs = np.empty(n_bootstrap)
        for b in range(n_bootstrap):
            ti = boot_idx[b] if boot_idx is not None else None
            pi = boot_pair[b] if boot_pair is not None else None
            m_int = _metrics(item_scores[("intact", -1)], ti, pi)[task]
            m_loc = _metrics(item_scores[("localized", -1)], ti, pi)[task]
            m_rnd = np.mean([_metrics(item_scores[k], ti, pi)[task] for k in random_keys])
            diffs[b] = _WORSE_SIGN[task] * ((m_loc - m_int) - (m_rnd - m_int))
        lo, hi = np.quantile(diffs, [(1 - ci) / 2, 1 - (1 - ci) / 2])
        summary_rows.append({
            "task": task,
            "intact": float(intact[task]),
            "localized_deficit": loc,
            "random_deficit_mean": float(rnd.mean()),
            "random_ci_low": float(rnd.mean() - half),
            "random_ci_high": float(rnd.mean() + half),
            "difference": float(loc - rnd.mean()),
            "difference_ci_low": float(lo),
            "difference_ci_high": float(hi),
            "p_random": float((1 + np.sum(rnd >= loc)) / (1 + rnd.size)),
            "p_random_min": float(1.0 / (1 + rnd.size)),
            "lm_head": bool(lm_head or task not in LM_METRICS),
        })
    params = {
        "mask_key": mask.key, "mask_params": mask.params, "n_selected": mask.n_selected, "mode": mode,
        "match": match, "n_random_seeds": int(n_random_seeds), "seed": int(seed), "scoring": method,
        "n_texts": len(texts), "n_pairs": len(pairs), "max_tokens": max_tokens, "ci": ci,
        "n_bootstrap": int(n_bootstrap), "metrics": list(metrics), "lm_head": bool(lm_head),
        "p_random_min": float(1.0 / (1 + n_random_seeds)),
    }
    report = DeficitReport(values, deficits, pd.DataFrame(summary_rows), params)
    logger.info("%r", report)
    for note in report.notes():
        logger.info("%s", note)
    return report
