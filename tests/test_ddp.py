"""Distributed training: 2 CPU processes under torchrun (gloo) end with identical weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

WORKER = textwrap.dedent(
    """
    import sys

    import numpy as np
    import torch
    import torch.distributed as dist
    from safetensors.torch import save_file

    from video_anomaly.seed.config import RunConfig
    from video_anomaly.data.records import ArraySource, Video
    from video_anomaly.seed.run_state import dist_info, init_distributed
    from video_anomaly.seed.training import train

    out = sys.argv[1]
    torch.set_num_threads(1)
    device = init_distributed("cpu")
    rank, world = dist_info()
    assert world == 2, world
    rng = np.random.default_rng(0)
    videos = [Video(f"v{i}", ArraySource(rng.integers(0, 255, (16, 32, 32), dtype=np.uint8))) for i in range(2)]
    cfg = RunConfig().replace(
        data={"size": 32, "clip_length": 4, "strides": [1]}, train={"epochs": 1, "batch_size": 1, "seed": 5}
    )
    result = train(cfg, videos, out + "/run", device=device, progress=False)
    state = {k: v.contiguous() for k, v in result.model.state_dict().items()}
    save_file(state, f"{out}/rank{rank}.safetensors", metadata={"steps": str(result.steps)})
    dist.destroy_process_group()
    """
)


def test_two_cpu_processes_end_with_identical_weights(tmp_path):
    torch_run = pytest.importorskip("torch.distributed.run")
    if not torch.distributed.is_gloo_available():
        pytest.skip("torch was built without the gloo backend")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", torch_run.__name__, "--standalone", "--nproc_per_node=2", str(script), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    r0 = load_file(str(tmp_path / "rank0.safetensors"))
    r1 = load_file(str(tmp_path / "rank1.safetensors"))
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"ranks differ at {k}"
    # The ranks saw different clips, so equality means gradients were averaged; and they did train.
    from video_anomaly.seed.checkpoint import load_checkpoint, read_meta
    from video_anomaly.seed.config import ModelConfig
    from video_anomaly.seed.models import build_model

    torch.manual_seed(5)
    init = build_model(ModelConfig()).state_dict()
    assert not torch.equal(init["conv1.weight"], r0["conv1.weight"])
    # Rank 0 alone wrote the run folder: one log line per epoch, the checkpoint holds the shared weights.
    run = tmp_path / "run"
    rows = (run / "train_log.jsonl").read_text().splitlines()
    assert len(rows) == 1 and json.loads(rows[0])["step"] == 3  # 6 clips over 2 ranks, batch 1
    assert read_meta(run / "checkpoint")["world_size"] == 2
    model, _, _ = load_checkpoint(run / "checkpoint")
    for k, v in model.state_dict().items():
        assert torch.equal(v, r0[k]), k
