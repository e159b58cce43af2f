"""DistributedDataParallel over 2 processes (gloo, CPU) trains a torch_ext model to the same parameters
as one process on the same data: the torch_ext ops' gradients are what DDP all-reduces."""

import datetime
import os
import socket
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

WORLD = 2
STEPS = 5
BATCH = 24  # per process
TIMEOUT_S = 240


def _model() -> nn.Module:
    import torch_ext.nn as TN

    torch.manual_seed(0)
    # float64, so the two runs agree to rounding of the all-reduce's sum order only. RReLU in training
    # mode with lower == upper: its training path, with a slope that is the same in every process.
    return nn.Sequential(
        nn.Linear(64, 32), TN.PReLU(32), nn.Linear(32, 32), TN.ELU(0.7), nn.Linear(32, 32), TN.SELU(),
        nn.Linear(32, 32), TN.Softplus(2.0), nn.Linear(32, 32), TN.RReLU(0.1, 0.1), nn.Linear(32, 10),
        TN.LogSoftmax(dim=1),
    ).double()


def _data():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(STEPS, WORLD * BATCH, 64, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 10, (STEPS, WORLD * BATCH), generator=gen)
    return x, y


def _train(model, x, y, rank=0, world=1):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(STEPS):
        rows = slice(rank * BATCH * WORLD // world, (rank + 1) * BATCH * WORLD // world)
        opt.zero_grad()
        nn.functional.nll_loss(model(x[step, rows]), y[step, rows]).backward()
        opt.step()


def _worker(rank: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=60))
    try:
        module = _model().train()
        ddp = nn.parallel.DistributedDataParallel(module)
        x, y = _data()
        _train(ddp, x, y, rank, WORLD)
        torch.save(module.state_dict(), os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="no gloo backend")
def test_ddp_two_processes_equal_one_process(tmp_path):
    context = mp.start_processes(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=False,
                                 start_method="spawn")
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not context.join(timeout=5):  # raises ProcessRaisedException if a worker failed
            if time.monotonic() > deadline:
                pytest.fail(f"DDP workers still running after {TIMEOUT_S} s")
    finally:
        for p in context.processes:
            if p.is_alive():
                p.terminate()
                p.join(10)

    single = _model().train()
    initial = {k: v.clone() for k, v in single.state_dict().items()}
    x, y = _data()
    _train(single, x, y)
    states = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    for name, expected in single.state_dict().items():
        assert not torch.equal(expected, initial[name]), f"{name} did not train"
        for rank, state in enumerate(states):
            torch.testing.assert_close(state[name], expected, rtol=1e-10, atol=1e-12,
                                       msg=lambda m: f"rank {rank}, {name}: {m}")
