"""The torch modules of the trainable encoders (imported when a fit starts: ``import brainalign`` stays torch-free)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ._bands import BandSpec, band_slices
from ._bands import SINGLE


class TemporalTransformer(nn.Module):
    """Band projectors -> modality dropout -> time embedding -> transformer -> offset pooling -> heads."""

    def __init__(self, band_sizes: list[int], heads: dict[str, int], *, width: int, depth: int, n_heads: int,
                 ff_mult: int, dropout: float, modality_dropout: float, window: int, fine_factor: int,
                 offset_steps: int, low_rank: int | None):
        super().__init__()
        self.fine_factor = fine_factor
        self.offset_steps = offset_steps
        self.modality_dropout = modality_dropout
        self.slices = band_slices([BandSpec(str(k), s) for k, s in enumerate(band_sizes)])
        self.projectors = nn.ModuleList(nn.Linear(s // fine_factor, width) for s in band_sizes)
        self.time_embedding = nn.Parameter(torch.randn(window * fine_factor, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, n_heads, ff_mult * width, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.shared = nn.Linear(width, low_rank) if low_rank else nn.Identity()
        head_in = low_rank or width
        self.heads = nn.ModuleDict({key: nn.Linear(head_in, n) for key, n in heads.items()})

    def forward(self, inputs, head: str) -> torch.Tensor:
        """``inputs`` = (x (batch, window, features), pad (batch, window), True on padded rows).

        Returns (batch, window, targets of ``head``).
        """
        x, pad = inputs
        b, w, _ = x.shape
        f = self.fine_factor
        parts = [proj(x[..., sl].reshape(b, w * f, -1)) for proj, sl in zip(self.projectors, self.slices)]
        tokens = torch.stack(parts, 1)  # (batch, bands, fine steps, width)
        if self.training and self.modality_dropout > 0 and len(parts) > 1:
            keep = torch.rand(b, len(parts), 1, 1, device=x.device) >= self.modality_dropout
            # a window with every band dropped would carry no input at all: keep its bands instead
            keep = keep | ~keep.any(1, keepdim=True)
            tokens = tokens * keep
        h = tokens.sum(1) + self.time_embedding[: w * f]
        mask = None if pad is None else pad.repeat_interleave(f, dim=1)
        h = self.transformer(h, src_key_padding_mask=mask)
        if self.offset_steps:
            # the response at sample t is read from the tokens offset_steps fine steps earlier
            h = torch.cat([h.new_zeros(b, self.offset_steps, h.shape[-1]), h[:, : w * f - self.offset_steps]], 1)
        h = h.reshape(b, w, f, -1).mean(2)
        return self.heads[head](self.shared(self.norm(h)))


class AttentionReadout(nn.Module):
    def __init__(self, n_tokens, n_channels, n_queries, query_of_target, dim):
        super().__init__()
        self.n_channels = n_channels
        self.norm = nn.LayerNorm(n_channels)
        self.keys = nn.Linear(n_channels, dim)
        self.values = nn.Linear(n_channels, dim)
        # position enters the keys so that routing can be location-driven as well as content-driven
        self.position = nn.Parameter(torch.zeros(n_tokens, dim))
        self.queries = nn.Parameter(torch.randn(n_queries, dim) / math.sqrt(dim))
        self.register_buffer("query_of_target", torch.as_tensor(query_of_target, dtype=torch.long))
        self.weight = nn.Parameter(torch.randn(len(query_of_target), dim) / math.sqrt(dim))
        self.bias = nn.Parameter(torch.zeros(len(query_of_target)))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.norm(x.reshape(x.shape[0], -1, self.n_channels))
        logits = torch.einsum("btd,qd->bqt", self.keys(tokens) + self.position, self.queries)
        return torch.softmax(logits / math.sqrt(self.queries.shape[1]), -1), tokens

    def forward(self, x: torch.Tensor, head: str = SINGLE) -> torch.Tensor:
        attn, tokens = self.attention(x)
        pooled = torch.einsum("bqt,btd->bqd", attn, self.values(tokens))  # (batch, queries, dim)
        return (pooled[:, self.query_of_target] * self.weight).sum(-1) + self.bias


class FactorizedReadout(nn.Module):
    def __init__(self, n_tokens, n_channels, n_targets):
        super().__init__()
        self.n_channels = n_channels
        self.mask = nn.Parameter(torch.full((n_targets, n_tokens), 1.0 / n_tokens))
        self.features = nn.Parameter(torch.randn(n_targets, n_channels) / math.sqrt(n_channels))
        self.bias = nn.Parameter(torch.zeros(n_targets))

    def forward(self, x: torch.Tensor, head: str = SINGLE) -> torch.Tensor:
        tokens = x.reshape(x.shape[0], -1, self.n_channels)
        per_token = torch.einsum("btc,jc->bjt", tokens, self.features)
        return (per_token * self.mask).sum(-1) + self.bias
