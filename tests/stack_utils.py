"""Helpers of the stack-integration tests: torch.nn twins of torch_ext models, and the names of the ops
in traced graphs."""

import copy

import torch
import torch.nn as nn

import torch_ext.nn as TN


def torch_twin(model: nn.Module) -> nn.Module:
    """A deep copy of `model` with each torch_ext.nn layer replaced by torch.nn's layer of the same name,
    arguments and state (torch_ext.nn.revert): the reference the torch_ext model must match."""
    return TN.revert(copy.deepcopy(model))


def ext_layers_in(model: nn.Module) -> set:
    return {type(m).__name__ for m in model.modules() if type(m).__module__.startswith("torch_ext.")}


def graph_ops(gm: torch.fx.GraphModule, namespace: str) -> set:
    """`namespace.op` names of the OpOverloads an FX graph calls, e.g. {"torch_ext.elu_backward"}."""
    out = set()
    for node in gm.graph.nodes:
        target = node.target
        if node.op == "call_function" and isinstance(target, torch._ops.OpOverload) and target.namespace == namespace:
            out.add(f"{namespace}.{target._opname}")
    return out


class GraphRecorder:
    """An aot_autograd backend that keeps the forward and backward FX graphs and runs them eagerly.
    ``forward`` and ``backward``: the graphs' code; ``forward_graphs`` and ``backward_graphs``: the graphs."""

    def __init__(self):
        from torch._dynamo.backends.common import aot_autograd

        self.forward_graphs, self.backward_graphs = [], []
        self.backend = aot_autograd(fw_compiler=self._keep(self.forward_graphs),
                                    bw_compiler=self._keep(self.backward_graphs))

    @property
    def forward(self) -> list:
        return [gm.code for gm in self.forward_graphs]

    @property
    def backward(self) -> list:
        return [gm.code for gm in self.backward_graphs]

    @staticmethod
    def _keep(store):
        from torch._functorch.aot_autograd import make_boxed_func

        def compiler(gm, example_inputs):
            store.append(gm)
            return make_boxed_func(gm.forward)

        return compiler
