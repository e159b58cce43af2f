"""The seed's last question, "for two classes, sigmoid or softmax?", on the digits: even against odd, the same MLP
body with a sigmoid head (one logit, :class:`torch_ext.nn.BCEWithLogitsLoss`) and with a 2-class softmax head (two
logits, :class:`torch_ext.nn.CrossEntropyLoss`), trained from the same seed. The two are one model:
softmax([z0, z1])[1] = sigmoid(z1 - z0), so the softmax head's cross-entropy is BCE-with-logits on z1 - z0; the
step checks that on the trained softmax head, then reports both heads' accuracy, loss and training time."""

import time
from dataclasses import dataclass
from typing import Callable, List

import torch
import torch.nn as nn

from .. import functional as TF
from .. import nn as TN
from .model import NUM_FEATURES, Split

HIDDEN = 64
EPOCHS = 15
LR = 5e-3
BATCH = 32
MIN_ACCURACY = 0.9  # what each head must reach: a check that the training works


def _sigmoid_loss(z: torch.Tensor, y: torch.Tensor, bce=TN.BCEWithLogitsLoss()) -> torch.Tensor:
    return bce(z[:, 0], y.to(z.dtype))


def _softmax_loss(z: torch.Tensor, y: torch.Tensor, cross_entropy=TN.CrossEntropyLoss()) -> torch.Tensor:
    return cross_entropy(z, y)


@dataclass(frozen=True)
class Head:
    name: str
    outputs: int  # logits
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits [N, outputs], labels [N] in {0, 1})
    predict: Callable[[torch.Tensor], torch.Tensor]  # logits -> labels


HEADS: List[Head] = [
    Head("sigmoid (1 logit, BCEWithLogitsLoss)", 1, _sigmoid_loss, lambda z: (z[:, 0] > 0).long()),
    Head("softmax (2 logits, CrossEntropyLoss)", 2, _softmax_loss, lambda z: z.argmax(dim=1)),
]


def body() -> nn.Sequential:
    return nn.Sequential(nn.Linear(NUM_FEATURES, HIDDEN), TN.ReLU(), nn.Linear(HIDDEN, HIDDEN), TN.ReLU())


def train_head(head: Head, data: Split, epochs: int = EPOCHS, seed: int = 0):
    """Trains body + Linear(HIDDEN, head.outputs) on odd (1) against even (0); returns the model, the per-epoch mean
    loss, the test accuracy and the training time."""
    torch.manual_seed(seed)
    model = nn.Sequential(body(), nn.Linear(HIDDEN, head.outputs))
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(seed)
    y_train, y_test = data.y_train % 2, data.y_test % 2
    n = data.x_train.shape[0]
    losses = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: see model.train
    start = time.perf_counter()
    try:
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for i in range(0, n, BATCH):
                idx = order[i:i + BATCH]
                loss = head.loss(model(data.x_train[idx]), y_train[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * idx.numel()
            losses.append(total / n)
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        accuracy = (head.predict(model(data.x_test)) == y_test).double().mean().item()
    return model, losses, accuracy, seconds


def run(data: Split, epochs: int = EPOCHS, seed: int = 0) -> bool:
    """The demo's step: trains both heads, prints a table, checks the softmax head against its sigmoid twin."""
    print(f"odd (1) against even (0) digits; MLP 64-{HIDDEN}-{HIDDEN}-head with ReLU, AdamW lr {LR}, {epochs} epochs, "
          f"seed {seed} for both heads", flush=True)
    results = [(head,) + train_head(head, data, epochs, seed) for head in HEADS]
    width = max(len(h.name) for h in HEADS)
    print(f"{'head'.ljust(width)}  test accuracy  final loss  training time")
    for head, _, losses, accuracy, seconds in results:
        print(f"{head.name.ljust(width)}  {100 * accuracy:12.2f} %  {losses[-1]:10.4f}  {seconds:11.2f} s")
    ok = all(acc >= MIN_ACCURACY for _, _, _, acc, _ in results)
    # The softmax head as a sigmoid head: the same probabilities and the same loss on the test set.
    softmax_model = results[1][1]
    with torch.no_grad():
        z = softmax_model(data.x_test).double()
        y = data.y_test % 2
        p_softmax, p_sigmoid = torch.softmax(z, dim=1)[:, 1], torch.sigmoid(z[:, 1] - z[:, 0])
        ce = TF.cross_entropy(z, y)
        bce = TF.binary_cross_entropy_with_logits(z[:, 1] - z[:, 0], y.double())
    prob_diff, loss_diff = (p_softmax - p_sigmoid).abs().max().item(), abs(ce.item() - bce.item())
    same = prob_diff < 1e-12 and loss_diff < 1e-12
    print(f"the softmax head is a sigmoid head on z1 - z0: probabilities differ by at most {prob_diff:.1e}, "
          f"cross-entropy {ce.item():.6f} vs BCE-with-logits {bce.item():.6f} (float64)")
    for head, _, _, accuracy, _ in results:
        if accuracy < MIN_ACCURACY:
            print(f"FAILED: {head.name}: test accuracy {100 * accuracy:.2f} % < {100 * MIN_ACCURACY:.0f} %")
    if not same:
        print("FAILED: the softmax head and its sigmoid twin differ")
    return ok and same
