"""The end-to-end demo (``make demo``): a classifier of torch_ext layers trained on scikit-learn's 8x8
digits, the validation report, the trained model run from C++ (TorchScript and AOTInductor), the
activations compared (a small MLP trained once per activation), word2vec's skip-gram with the hierarchical softmax,
and plots.

    python -m torch_ext.demo [--out build/demo] [--run-model PATH] ...

The submodules are usable on their own: :mod:`.model` (the classifier, the data, the training loop),
:mod:`.export` (TorchScript and AOTInductor artifacts, the C++ program's data files and its run),
:mod:`.compare` (the activations compared), :mod:`.word2vec` (skip-gram on the standard library's docstrings) and
:mod:`.plots`. They need scikit-learn, tqdm and matplotlib, which the library itself does not.
"""
