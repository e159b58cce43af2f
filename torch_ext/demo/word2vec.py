"""word2vec on text already on the machine: skip-gram over the Python standard library's docstrings, its output
layer :class:`torch_ext.nn.HierarchicalSoftmax` on a Huffman tree of the word counts (word2vec's own: a word's
log-probability is a sum of log-sigmoids along its path from the root, about log2(V) dot products per pair instead
of V). The step reports the nearest neighbours of a few words, the training speed against a full softmax output
layer on the same batches, and the loss by epoch; it passes when the loss fell."""

import ast
import math
import re
import sysconfig
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import nn as TN

MAX_TOKENS = 300_000  # the docstrings' first tokens, in sorted file order: about the whole stdlib outside its tests
MIN_COUNT = 5  # rarer words are dropped, as word2vec's min_count does
MAX_VOCAB = 8000
SUBSAMPLE = 1e-3  # word2vec's -sample: "the", "a", "to" ... are mostly skipped
DIM = 64
WINDOW = 3
BATCH = 1024
LR = 3e-3
EPOCHS = 4  # about 30 s with the batches timed, on 2 cores
TIMED_STEPS = 200  # batches timed with each output layer
PROBES = ("list", "file", "string", "thread", "return", "integer")
NEIGHBOURS = 5

WORD = re.compile(r"[a-z]+")
TEST_DIRS = {"test", "tests", "idle_test"}  # left out: their docstrings are mostly "Test that ..."


def stdlib_docstrings(root: Optional[Path] = None) -> Iterator[str]:
    """The docstrings of the standard library's modules, classes and functions, file by file in sorted order."""
    root = Path(sysconfig.get_paths()["stdlib"]) if root is None else root
    for path in sorted(root.rglob("*.py")):
        folders = path.relative_to(root).parts[:-1]
        if "site-packages" in folders or TEST_DIRS.intersection(folders):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # old modules' invalid escape sequences
                tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):  # files of deliberately bad syntax
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    yield doc


@dataclass
class Corpus:
    words: List[str]  # the vocabulary, most frequent first
    counts: torch.Tensor  # [V] each word's count
    ids: torch.Tensor  # [T] the corpus as word ids, out-of-vocabulary tokens dropped
    docstring: torch.Tensor  # [T] which docstring each token comes from: a window stays inside one
    tokens_read: int


def load_corpus(max_tokens: int = MAX_TOKENS, min_count: int = MIN_COUNT, max_vocab: int = MAX_VOCAB) -> Corpus:
    docs, read = [], 0
    for doc in stdlib_docstrings():
        docs.append(WORD.findall(doc.lower())[: max_tokens - read])
        read += len(docs[-1])
        if read >= max_tokens:
            break
    counts = Counter(word for doc in docs for word in doc)
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))[:max_vocab]
    index = {w: i for i, w in enumerate(words)}
    ids = [[index[w] for w in doc if w in index] for doc in docs]
    return Corpus(words, torch.tensor([counts[w] for w in words]), torch.tensor([i for doc in ids for i in doc]),
                  torch.tensor([d for d, doc in enumerate(ids) for _ in doc]), read)


def skipgram_pairs(corpus: Corpus, window: int, gen: torch.Generator,
                   subsample: Optional[float] = SUBSAMPLE) -> Tuple[torch.Tensor, torch.Tensor]:
    """(centre, context) ids of the words at most `window` apart in one docstring, after word2vec's subsampling
    (drawn anew each epoch; None: none): a word of frequency f stays with probability (sqrt(f / t) + 1) * t / f."""
    ids, docstring = corpus.ids, corpus.docstring
    if subsample is not None:
        freq = corpus.counts.double() / corpus.counts.sum()
        keep_prob = ((freq / subsample).sqrt() + 1) * subsample / freq
        kept = torch.rand(ids.numel(), generator=gen, dtype=torch.float64) < keep_prob[ids]
        ids, docstring = ids[kept], docstring[kept]
    centres, contexts = [], []
    for offset in range(1, window + 1):
        same_doc = docstring[:-offset] == docstring[offset:]
        left, right = ids[:-offset][same_doc], ids[offset:][same_doc]
        centres += [left, right]
        contexts += [right, left]
    return torch.cat(centres), torch.cat(contexts)


# The two output layers: each maps (the centre words' embeddings [N, DIM], the context words [N]) to a mean loss.
def hierarchical_softmax(corpus: Corpus) -> Tuple[nn.Module, Callable]:
    head = TN.HierarchicalSoftmax(DIM, len(corpus.words), tree="huffman", counts=corpus.counts)
    return head, lambda x, target: head(x, target).loss


def full_softmax(corpus: Corpus) -> Tuple[nn.Module, Callable]:
    head = nn.Linear(DIM, len(corpus.words))
    return head, lambda x, target: F.cross_entropy(head(x), target)


class SkipGram:
    """Input embeddings and an output layer, trained with Adam on batches of (centre, context) pairs."""

    def __init__(self, corpus: Corpus, output_layer: Callable[[Corpus], Tuple[nn.Module, Callable]], seed: int):
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(len(corpus.words), DIM)
        nn.init.uniform_(self.embedding.weight, -0.5 / DIM, 0.5 / DIM)  # word2vec's initialisation
        self.head, self.loss_fn = output_layer(corpus)
        params = list(self.embedding.parameters()) + list(self.head.parameters())
        self.optimizer = torch.optim.Adam(params, lr=LR)

    def step(self, centres: torch.Tensor, contexts: torch.Tensor) -> float:
        loss = self.loss_fn(self.embedding(centres), contexts)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()


def batches(centres: torch.Tensor, contexts: torch.Tensor, gen: torch.Generator):
    order = torch.randperm(centres.numel(), generator=gen)
    for i in range(0, order.numel(), BATCH):
        idx = order[i:i + BATCH]
        yield centres[idx], contexts[idx]


def nearest(embedding: torch.Tensor, words: List[str], word: str, k: int = NEIGHBOURS) -> List[Tuple[str, float]]:
    """The k words whose input embeddings have the largest cosine similarity with `word`'s."""
    vectors = F.normalize(embedding, dim=1)
    i = words.index(word)
    similarity = vectors @ vectors[i]
    similarity[i] = -float("inf")
    top = similarity.topk(k)
    return [(words[j], s) for j, s in zip(top.indices.tolist(), top.values.tolist())]


def pairs_per_second(model: SkipGram, timed: List[Tuple[torch.Tensor, torch.Tensor]]) -> float:
    start = time.perf_counter()
    for centres, contexts in timed:
        model.step(centres, contexts)
    return sum(c.numel() for c, _ in timed) / (time.perf_counter() - start)


def run(epochs: int = EPOCHS, max_tokens: int = MAX_TOKENS, timed_steps: int = TIMED_STEPS, seed: int = 0) -> bool:
    """The demo's step: trains skip-gram with the hierarchical softmax for `epochs`, prints the neighbours, times
    both output layers on the same `timed_steps` batches; True when the last epoch's loss is below the first's."""
    if epochs < 2:
        raise ValueError(f"epochs={epochs}: 2 or more (the first epoch's loss is compared with the last's)")
    start = time.perf_counter()
    corpus = load_corpus(max_tokens)
    print(f"corpus: {corpus.tokens_read} tokens of the stdlib's docstrings, {corpus.ids.numel()} in a vocabulary of "
          f"{len(corpus.words)} words (count >= {MIN_COUNT}), read in {time.perf_counter() - start:.1f} s", flush=True)
    print(f"skip-gram: window {WINDOW}, {DIM}-d embeddings, HierarchicalSoftmax (Huffman tree), Adam lr {LR}, "
          f"batch {BATCH}, subsampling t={SUBSAMPLE:g}, seed {seed}", flush=True)
    gen = torch.Generator().manual_seed(seed)
    model = SkipGram(corpus, hierarchical_softmax, seed)
    losses = []
    for epoch in range(1, epochs + 1):
        centres, contexts = skipgram_pairs(corpus, WINDOW, gen)
        epoch_start, total, n = time.perf_counter(), 0.0, 0
        for c, t in batches(centres, contexts, gen):
            total += model.step(c, t) * c.numel()
            n += c.numel()
        losses.append(total / n)
        print(f"epoch {epoch}: {n} pairs, mean loss {losses[-1]:.4f} ({time.perf_counter() - epoch_start:.1f} s)",
              flush=True)

    print("nearest neighbours (cosine similarity of the input embeddings):")
    embedding = model.embedding.weight.detach()
    for word in (w for w in PROBES if w in corpus.words):
        print(f"  {word:8s} " + ", ".join(f"{w} {s:.2f}" for w, s in nearest(embedding, corpus.words, word)))

    # The same batches through each output layer, each from a fresh model of the same seed; a timed step is the
    # whole training step (embedding lookup, output layer, backward, Adam), so the ratio is what training gains.
    timed = list(batches(*skipgram_pairs(corpus, WINDOW, gen), gen))[:timed_steps]
    hs_speed = pairs_per_second(SkipGram(corpus, hierarchical_softmax, seed), timed)
    full_speed = pairs_per_second(SkipGram(corpus, full_softmax, seed), timed)
    print(f"training speed over {len(timed)} batches of {BATCH} pairs, {torch.get_num_threads()} threads: hierarchical "
          f"softmax {hs_speed:,.0f} pairs/s, full softmax (Linear({DIM}, {len(corpus.words)}) + cross_entropy) "
          f"{full_speed:,.0f} pairs/s; ratio {hs_speed / full_speed:.1f}x")

    fell = all(map(math.isfinite, losses)) and losses[-1] < losses[0]
    print(f"loss: first epoch {losses[0]:.4f}, last {losses[-1]:.4f}: {'fell' if fell else 'DID NOT FALL'}")
    return fell
