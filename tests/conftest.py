"""Shared fixtures: opt-in slow tests, a tiny synthetic UCSD-style scene, the shared real datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False, help="run tests marked slow")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: real-data or long checks (opt-in with --run-slow)")
    config.addinivalue_line("markers", "cuda: needs an NVIDIA GPU")


def pytest_collection_modifyitems(config, items):
    skip_slow = None if config.getoption("--run-slow") else pytest.mark.skip(reason="slow: pass --run-slow to run")
    cuda_items = [item for item in items if "cuda" in item.keywords]
    skip_cuda = None
    if cuda_items:
        import torch

        if not torch.cuda.is_available():
            skip_cuda = pytest.mark.skip(reason="needs an NVIDIA GPU (CUDA not available)")
    for item in items:
        if skip_slow is not None and "slow" in item.keywords:
            item.add_marker(skip_slow)
        if skip_cuda is not None and "cuda" in item.keywords:
            item.add_marker(skip_cuda)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A tiny synthetic scene in the UCSD layout (48x64, 2 train and 2 test videos of 40 frames)."""
    from video_anomaly.data.synthetic import make_synthetic_scene

    return make_synthetic_scene(
        tmp_path_factory.mktemp("synthetic"), seed=0, height=48, width=64, n_train=2, n_test=2, frames=40
    )


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets`` from the project root, or skip."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip("../shared/datasets not found: real-data test skipped")
    return SHARED_DATASETS


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A calibrated detector over the temporal-median stand-in of ``live_fixtures`` (one per test module)."""
    from live_fixtures import calibrated_checkpoint

    mp = pytest.MonkeyPatch()
    path, _ = calibrated_checkpoint(tmp_path_factory.mktemp("detector"), mp)
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def grass():
    """``(frames (120, 48, 64) uint8, labels)`` with a person on the grass from frame ~43 to ~78."""
    from live_fixtures import grass_videos

    return grass_videos(1)[0]
