"""The demo's classifier, its data and its training loop."""

import time
from dataclasses import dataclass, field
from typing import List, Optional

import torch
import torch.nn as nn

from .. import nn as TN

NUM_FEATURES = 64  # 8x8 pixels
NUM_CLASSES = 10


def classifier(
    in_features: int = NUM_FEATURES, hidden: int = 128, classes: int = NUM_CLASSES, dropout: float = 0.1
) -> nn.Sequential:
    """An MLP whose every nonlinearity is a torch_ext layer: PReLU (one weight per unit), ELU, SELU,
    softplus, RReLU and log_softmax, so training and inference go through each op, forward and backward.
    Its output is log-probabilities (train with NLLLoss). Dropout on the two wide layers: 1437 training
    images are few for 30k weights."""
    half = hidden // 2
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        TN.PReLU(hidden),
        nn.Dropout(dropout),
        nn.Linear(hidden, hidden),
        TN.ELU(alpha=1.0),
        nn.Dropout(dropout),
        nn.Linear(hidden, half),
        TN.SELU(),
        nn.Linear(half, half),
        TN.Softplus(beta=1.0),
        nn.Linear(half, half),
        TN.RReLU(),
        nn.Linear(half, classes),
        TN.LogSoftmax(dim=1),
    )


@dataclass
class Split:
    """Features scaled to [0, 1] (float32) and labels (int64), train and test."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits_split(test_size: float = 0.2, seed: int = 0) -> Split:
    """scikit-learn's bundled 8x8 digits (1797 images, nothing downloaded), split stratified with a fixed
    seed, so the same rows land in the test set on every machine."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=test_size, random_state=seed, stratify=digits.target
    )
    # Pixels are 0..16; a fixed scale (not statistics of the split) keeps the exported model self-contained.
    def features(a):
        return torch.as_tensor(a, dtype=torch.float32) / 16.0

    def labels(a):
        return torch.as_tensor(a, dtype=torch.int64)

    return Split(features(x_train), labels(y_train), features(x_test), labels(y_test))


@dataclass
class History:
    """Per epoch: mean training loss, train accuracy (of the training-mode forward) and test accuracy."""

    loss: List[float] = field(default_factory=list)
    train_accuracy: List[float] = field(default_factory=list)
    test_accuracy: List[float] = field(default_factory=list)
    seconds: float = 0.0


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of the model in eval mode (RReLU's fixed slope); the model's mode is restored."""
    was_training = model.training
    model.eval()
    try:
        return (model(x).argmax(dim=1) == y).double().mean().item()
    finally:
        model.train(was_training)


def train(
    model: nn.Module,
    data: Split,
    epochs: int = 40,
    batch_size: int = 32,
    lr: float = 2e-3,
    weight_decay: float = 0.05,
    seed: int = 0,
    progress: Optional[bool] = None,
    threads: Optional[int] = 1,
) -> History:
    """AdamW on NLLLoss over shuffled mini-batches (the order from a generator seeded with `seed`).
    `progress`: show a tqdm bar (None: only on a terminal). Returns the per-epoch history; the model
    is left in eval mode. `threads`: intra-op threads while training (None: leave torch's setting).

    NB: one thread by default: on batches of 32 rows an op's work is a few microseconds, so extra
    threads only add synchronization, and on a busy machine OpenMP's waiting workers slow every op
    down several times over (measured: 40 epochs in ~10 s on one thread, minutes on two busy cores)."""
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train(model, data, epochs, batch_size, lr, weight_decay, seed, progress)
    finally:
        torch.set_num_threads(previous_threads)


def _train(model, data, epochs, batch_size, lr, weight_decay, seed, progress) -> History:
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    # Decay to a tenth over the run: the last epochs settle instead of bouncing between minibatches.
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=lr / 10)
    loss_fn = nn.NLLLoss()
    history = History()
    n = data.x_train.shape[0]
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="train", unit="epoch", disable=(not progress) if progress is not None else None)
    for _ in bar:
        model.train()
        order = torch.randperm(n, generator=gen)
        total, correct = 0.0, 0
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            x, y = data.x_train[idx], data.y_train[idx]
            out = model(x)
            loss = loss_fn(out, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * idx.numel()
            correct += (out.argmax(dim=1) == y).sum().item()
        scheduler.step()
        history.loss.append(total / n)
        history.train_accuracy.append(correct / n)
        history.test_accuracy.append(accuracy(model, data.x_test, data.y_test))
        bar.set_postfix(loss=f"{history.loss[-1]:.4f}", test_acc=f"{history.test_accuracy[-1]:.3f}")
    bar.close()
    history.seconds = time.perf_counter() - start
    model.eval()
    return history
