"""The trained heads of the guards: a linear value head with the streaming loss of
Constitutional Classifiers, and a logistic head (scikit-learn), both saved as plain arrays.

The value head's loss (Sharma et al. 2025; docs/methods/guards.md). For token t of a reply
with label y (1 = the whole exchange is restricted), the head predicts p_t = sigmoid(w·h_t
+ b). The loss is binary cross-entropy on a mix of the direct score and its cumulative
maximum,

    q_t = (1 - ω) p_t + ω max_{s <= t} p_s,      L = mean_t BCE(q_t, y),

with ω moved linearly from 0 to 1 over training. Early on every token learns to predict
the label directly; later the loss judges the score that halting actually uses, the running
maximum, so a permitted reply is penalised for its single highest token and a restricted one
only needs its maximum to rise."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

EPS = 1e-6


def mix_weight(step: int, steps: int) -> float:
    """ω at a training step: 0 at the first, 1 at the last."""
    return 1.0 if steps <= 1 else step / (steps - 1)


def value_head_loss(
    logits: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, mix: float
) -> torch.Tensor:
    """The streaming loss over a padded batch: logits and mask [B, T], labels [B]."""
    probs = torch.sigmoid(logits) * mask  # padding sits after each row's tokens
    running = torch.cummax(probs, dim=1).values
    mixed = ((1 - mix) * probs + mix * running).clamp(EPS, 1 - EPS)
    target = labels[:, None].expand_as(mixed)
    bce = -(target * mixed.log() + (1 - target) * (1 - mixed).log())
    return (bce * mask).sum() / mask.sum().clamp(min=1)


def _padded(states: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in states)
    dim = states[0].shape[-1]
    batch = torch.zeros(len(states), width, dim)
    mask = torch.zeros(len(states), width)
    for i, s in enumerate(states):
        batch[i, : len(s)] = s
        mask[i, : len(s)] = 1.0
    return batch, mask


def train_value_head(
    states: Sequence[torch.Tensor],
    labels: Sequence[bool],
    *,
    steps: int = 300,
    lr: float = 1e-2,
    weight_decay: float = 1e-3,
    seed: int = 0,
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, list[float]]:
    """Fit a linear value head on per-token states ([T_i, d] each) with full-batch AdamW;
    the features are standardised first. Returns (w, b, mean, scale, loss per step)."""
    kept = [(s, y) for s, y in zip(states, labels, strict=True) if len(s)]
    flat = torch.cat([s for s, _ in kept])
    mean, scale = flat.mean(0), flat.std(0).clamp(min=1e-4)
    batch, mask = _padded([(s - mean) / scale for s, _ in kept])
    target = torch.tensor([float(y) for _, y in kept])
    generator = torch.Generator().manual_seed(seed)
    head = torch.nn.Linear(batch.shape[-1], 1)
    with torch.no_grad():
        head.weight.normal_(0, 0.01, generator=generator)
        head.bias.zero_()
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    with torch.enable_grad():
        for step in range(steps):
            optimizer.zero_grad()
            loss = value_head_loss(head(batch).squeeze(-1), mask, target, mix_weight(step, steps))
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    w = head.weight.detach().squeeze(0).numpy()
    return w, float(head.bias.detach()), mean.numpy(), scale.numpy(), losses


def fit_logistic(features: np.ndarray, labels: Sequence[bool], seed: int = 0):
    """A class-balanced logistic head on standardised features (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = features.mean(0), features.std(0).clip(min=1e-4)
    model = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced", random_state=seed)
    model.fit((features - mean) / scale, np.asarray(labels, dtype=int))
    return model.coef_[0].astype(np.float32), float(model.intercept_[0]), mean, scale


class LinearHead:
    """sigmoid(w · (x - mean) / scale + b), stored as arrays and JSON (never a pickle)."""

    def __init__(self, w, b: float, mean, scale, meta: dict | None = None):
        self.w = np.asarray(w, dtype=np.float32)
        self.b = float(b)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.scale = np.asarray(scale, dtype=np.float32)
        self.meta = dict(meta or {})

    def score(self, features) -> np.ndarray:
        x = (np.asarray(features, dtype=np.float32) - self.mean) / self.scale
        return (1.0 / (1.0 + np.exp(-(x @ self.w + self.b)))).astype(np.float32)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / "head.tmp.npz"
        np.savez(tmp, w=self.w, b=np.float32(self.b), mean=self.mean, scale=self.scale)
        tmp.replace(directory / "head.npz")
        (directory / "guard.json").write_text(json.dumps(self.meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> LinearHead:
        """Raises ValueError or OSError when the files are missing or damaged."""
        meta = json.loads((directory / "guard.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("guard.json does not hold a mapping")
        with np.load(directory / "head.npz", allow_pickle=False) as arrays:
            head = cls(arrays["w"], float(arrays["b"]), arrays["mean"], arrays["scale"], meta)
        if not head.w.shape == head.mean.shape == head.scale.shape:
            raise ValueError("the head's arrays disagree in shape")
        return head
