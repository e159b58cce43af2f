"""The demo's figures (matplotlib, Agg backend: no display needed): the training curve, and each
activation with its derivative, both computed by the torch_ext ops (the derivative through autograd,
i.e. the op's own backward kernel)."""

from pathlib import Path
from typing import Callable, List, Tuple

import torch

from .. import functional as TF
from .model import History


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training(history: History, path: Path) -> Path:
    """Loss (log scale) and train/test accuracy per epoch."""
    plt = _pyplot()
    epochs = range(1, len(history.loss) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(epochs, history.loss, color="tab:blue")
    ax_loss.set(xlabel="epoch", ylabel="NLL loss (train)", yscale="log", title="Training loss")
    ax_acc.plot(epochs, [100 * a for a in history.train_accuracy], label="train (training mode)")
    ax_acc.plot(epochs, [100 * a for a in history.test_accuracy], label="test (eval mode)")
    ax_acc.axhline(95, color="gray", linestyle=":", linewidth=1, label="95 %")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", ylim=(min(80, 100 * min(history.train_accuracy + history.test_accuracy)) - 2, 100.5),
               title=f"Accuracy (final test {100 * history.test_accuracy[-1]:.1f} %)")
    ax_acc.legend(loc="lower right")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    fig.suptitle("torch_ext MLP on the 8x8 digits (PReLU, ELU, SELU, softplus, RReLU, log_softmax)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _prelu(x):
    return TF.prelu(x, torch.tensor([0.25], dtype=x.dtype))


def _softmax_first(x):
    # softmax over two logits (x, 0): the first probability, which is sigmoid(x).
    return TF.softmax(torch.stack([x, torch.zeros_like(x)], dim=1), dim=1)[:, 0]


def _log_softmax_first(x):
    return TF.log_softmax(torch.stack([x, torch.zeros_like(x)], dim=1), dim=1)[:, 0]


ACTIVATIONS: List[Tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = [
    ("ELU (alpha=1)", lambda x: TF.elu(x)),
    ("CELU (alpha=0.5)", lambda x: TF.celu(x, 0.5)),
    ("SELU", lambda x: TF.selu(x)),
    ("PReLU (a=0.25)", _prelu),
    ("RReLU (eval: slope (l+u)/2)", lambda x: TF.rrelu(x)),
    ("softplus (beta=1)", lambda x: TF.softplus(x)),
    ("softmax([x, 0])[0]", _softmax_first),
    ("log_softmax([x, 0])[0]", _log_softmax_first),
]


def value_and_derivative(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """f(x) and f'(x) elementwise: the sum's gradient, as each output depends on its own input only."""
    x = x.detach().clone().requires_grad_()
    y = fn(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), dy.detach()


def plot_activations(path: Path, lo: float = -4.0, hi: float = 4.0, points: int = 801) -> Path:
    """One panel per activation: the function and its derivative; RReLU's panel adds training-mode
    samples, whose slopes are drawn from U(lower, upper)."""
    plt = _pyplot()
    x = torch.linspace(lo, hi, points, dtype=torch.float64)
    cols = 4
    rows = (len(ACTIVATIONS) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows), sharex=True)
    for ax, (name, fn) in zip(axes.flat, ACTIVATIONS):
        y, dy = value_and_derivative(fn, x)
        ax.plot(x, y, color="tab:blue", label="f(x)")
        ax.plot(x, dy, color="tab:orange", linestyle="--", label="f'(x) (autograd)")
        if name.startswith("RReLU"):
            gen = torch.Generator().manual_seed(0)
            xs = torch.rand(400, generator=gen, dtype=torch.float64) * (hi - lo) + lo
            ax.scatter(xs, TF.rrelu(xs, training=True), s=3, color="tab:green", alpha=0.5, label="training samples")
        ax.axhline(0, color="black", linewidth=0.5)
        ax.axvline(0, color="black", linewidth=0.5)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(ACTIVATIONS):]:
        ax.axis("off")
    axes.flat[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("torch_ext activations and their derivatives (torch_ext ops, backward by autograd)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
