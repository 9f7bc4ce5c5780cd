"""``video-anomaly export CHECKPOINT OUT.onnx [--size N] [--stages]``: write a checkpoint's model as ONNX."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a checkpoint's model to ONNX (checked against PyTorch with ONNX Runtime)",
        description=(
            "Export a trained model to ONNX: one graph (B, T, 1, S, S) -> (B, T, 1, S, S) with a dynamic batch, "
            "and with --stages the seed model's encoder, ConvLSTM and decoder as OUT.encoder.onnx, "
            "OUT.temporal.onnx, OUT.decoder.onnx. Each graph is run once with ONNX Runtime and compared with "
            "PyTorch (max abs difference <= 1e-4) when onnxruntime is installed."
        ),
    )
    p.add_argument("checkpoint", help="checkpoint written by 'video-anomaly train'")
    p.add_argument("output", help="ONNX file to write, e.g. model.onnx")
    p.add_argument("--size", type=int, default=None, help="frame size S in pixels (default: the checkpoint's)")
    p.add_argument("--stages", action="store_true", help="also export the encoder/temporal/decoder stages")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--no-verify", action="store_true", help="skip the ONNX Runtime check against PyTorch")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..checkpoint import load_checkpoint
    from ..export import export_onnx, export_stages

    model, run_config, _extras = load_checkpoint(args.checkpoint, torch.device("cpu"))
    size = args.size if args.size is not None else run_config.data.size
    clip_length = run_config.data.clip_length
    verify = False if args.no_verify else None
    path = export_onnx(model, args.output, size=size, clip_length=clip_length, opset=args.opset, verify=verify)
    print(f"wrote {path} (input (B, {clip_length}, 1, {size}, {size}))")
    if args.stages:
        for name, stage in export_stages(
            model, args.output, size=size, clip_length=clip_length, opset=args.opset, verify=verify
        ).items():
            print(f"wrote {stage} ({name})")
    return 0
