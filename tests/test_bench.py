"""The benchmark runs end to end at a tiny size and reports consistent numbers."""

from __future__ import annotations

import pytest

from video_anomaly.bench import format_table, model_flops, run_bench
from video_anomaly.cli import main
from video_anomaly.seed.models.convlstm_ae import ConvLSTMAutoencoder


def test_flops_match_the_issue_count_at_256():
    f = model_flops(ConvLSTMAutoencoder(), 256)
    per_frame = f["encode"] + f["gates1"] + f["temporal"] / 10 + f["decode"]
    assert abs(per_frame / 1e9 - 12.2) < 0.05
    assert f["temporal_fast"] < f["temporal"]


def test_run_bench_tiny():
    r = run_bench(size=16, windows=2, live_frames=2, repeats=1, what=("exact", "live", "train"), train_batch=1)
    assert r["exact"]["speedup"] > 0 and r["exact"]["max_rel_diff_l1"] < 1e-4
    assert r["live"]["max_rel_diff_l1"] < 1e-4
    assert r["train"]["max_rel_diff_grad"] < 1e-3
    assert r["matmul_peak_gflops"] > 0 and r["peak_rss_mb"] > 0
    table = format_table(r)
    assert "exact" in table and "% peak" in table and "peak resident memory" in table


def test_cli_bench_writes_json(tmp_path, capsys):
    out = tmp_path / "b.json"
    rc = main(["bench", "--size", "16", "--windows", "1", "--live-frames", "1", "--repeats", "1", "--what", "exact",
               "--json", str(out)])  # fmt: skip
    assert rc == 0 and out.exists()
    assert "windows/s" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:  # refused when parsed: a frame side is a multiple of 8
        main(["bench", "--size", "12"])
    assert exc.value.code == 2 and "multiple of 8" in capsys.readouterr().err
