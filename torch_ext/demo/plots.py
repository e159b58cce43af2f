"""The demo's figures (matplotlib, Agg backend: no display needed): the training curve, and each
activation with its derivative, both computed by the torch_ext ops (the derivative through autograd,
i.e. the op's own backward kernel)."""

from pathlib import Path
from typing import Callable, List, Tuple

import torch

from .. import functional as TF
from .compare import ACTIVATIONS
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


def _softmax_first(x):
    # softmax over two logits (x, 0): the first probability, which is sigmoid(x).
    return TF.softmax(torch.stack([x, torch.zeros_like(x)], dim=1), dim=1)[:, 0]


def _log_softmax_first(x):
    return TF.log_softmax(torch.stack([x, torch.zeros_like(x)], dim=1), dim=1)[:, 0]


# The classifier's other ops, which the comparison does not train: plotted after the compared activations.
OTHER_FUNCTIONS: List[Tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = [
    ("CELU (alpha=0.5)", lambda x: TF.celu(x, 0.5)),
    ("SELU", lambda x: TF.selu(x)),
    ("softmax([x, 0])[0]", _softmax_first),
    ("log_softmax([x, 0])[0]", _log_softmax_first),
    ("logsigmoid", TF.logsigmoid),
]

# (title, function of a float64 tensor, whether its backward is a surrogate): the compared activations as
# layers of width 1 in eval mode (PReLU's initial slope, RReLU's fixed one), then the other functions.
PANELS: List[Tuple[str, Callable[[torch.Tensor], torch.Tensor], bool]] = [
    (a.name, a.layer(1).eval().to(torch.float64), a.surrogate) for a in ACTIVATIONS
] + [(name, fn, False) for name, fn in OTHER_FUNCTIONS]


def value_and_derivative(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """f(x) and f'(x) elementwise: the sum's gradient, as each output depends on its own input only."""
    x = x.detach().clone().requires_grad_()
    y = fn(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), dy.detach()


def plot_activations(path: Path, lo: float = -4.0, hi: float = 4.0, points: int = 801) -> Path:
    """One panel per function of PANELS: the function and its derivative, or for sign the surrogate its
    backward uses; RReLU's panel adds training-mode samples, whose slopes are drawn from U(lower, upper)."""
    plt = _pyplot()
    x = torch.linspace(lo, hi, points, dtype=torch.float64)
    cols = 4
    rows = (len(PANELS) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), sharex=True)
    legends = set()
    for ax, (name, fn, surrogate) in zip(axes.flat, PANELS):
        y, dy = value_and_derivative(fn, x)
        ax.plot(x, y, color="tab:blue", label="f(x)")
        if surrogate:
            ax.plot(x, dy, color="tab:red", linestyle="--", label="surrogate (backward)")
        else:
            ax.plot(x, dy, color="tab:orange", linestyle="--", label="f'(x) (autograd)")
        if name.startswith("RReLU"):
            gen = torch.Generator().manual_seed(0)
            xs = torch.rand(400, generator=gen, dtype=torch.float64) * (hi - lo) + lo
            ax.scatter(xs, TF.rrelu(xs, training=True), s=3, color="tab:green", alpha=0.5, label="training samples")
        ax.axhline(0, color="black", linewidth=0.5)
        ax.axvline(0, color="black", linewidth=0.5)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        if surrogate not in legends:  # one legend for the sign panels, one for the others
            legends.add(surrogate)
            ax.legend(loc="lower right" if surrogate else "upper left", fontsize=8)
    for ax in list(axes.flat)[len(PANELS):]:
        ax.axis("off")
    fig.suptitle("torch_ext activations and their derivatives (torch_ext ops, backward by autograd; "
                 "sign's and heaviside's are their surrogate gradients)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
