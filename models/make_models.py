#!/usr/bin/python3
"""Builds bitsmith's own small reference models with PyTorch and exports them to ONNX.

Committed models (written to models/ by default, each with a sample input and torch's output):
  cnn_small  3x32x32 CNN: conv3x3, depthwise-separable blocks, BatchNormalization kept in the
             graph (folding is left to bitsmith's passes), a residual Add, GlobalAveragePool,
             Flatten, Gemm to 10 logits. Opset 13, dynamic batch.
  gpt_tiny   GPT-style decoder: token embedding (Gather) + learned position embedding (folded to an
             initializer by the exporter), 2 pre-LN blocks of
             causal multi-head self-attention and a GELU MLP (block 0 exact Erf GELU, block 1
             tanh approximation), final LayerNormalization and a linear head. vocab 256,
             d_model 64, 4 heads, seq 16, int64 token ids [batch, 16]. Opset 17, dynamic batch.

Benchmark models (only with --bench; several MB, so written to a scratch folder, never committed):
  resnet_bench       ResNet-style CNN, 3 stages of 2 basic blocks (48/96/192 channels),
                     3x64x64 input, ~1.6 M parameters, BatchNormalization folded. Opset 13.
  transformer_bench  one pre-LN transformer encoder block, d_model 256, 4 heads, seq 64,
                     FFN 1024 with GELU. Opset 17.

Weights are random but seeded (no training); BatchNorm running statistics and affine parameters
are set to non-trivial random values so that folding them changes the weights measurably.
Everything runs on the CPU, deterministically: re-running writes identical files.

Usage:
  /usr/bin/python3 models/make_models.py                  # committed models -> models/
  /usr/bin/python3 models/make_models.py --out-dir DIR    # committed models -> DIR
  /usr/bin/python3 models/make_models.py --bench --out-dir DIR   # benchmark models -> DIR
"""

import argparse
import math
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

kSeed = 20240611


# ----------------------------------------------------------------------------------------------
# cnn_small


class ConvBnRelu(nn.Sequential):
    def __init__(self, cin, cout, kernel, stride=1, groups=1, relu=True):
        layers = [
            nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if relu:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class CnnSmall(nn.Module):
    """[N,3,32,32] -> [N,10] logits."""

    def __init__(self):
        super().__init__()
        self.stem = ConvBnRelu(3, 16, 3)                       # 16x32x32
        self.dw1 = ConvBnRelu(16, 16, 3, stride=2, groups=16)  # 16x16x16 depthwise
        self.pw1 = ConvBnRelu(16, 32, 1)                       # 32x16x16 pointwise
        self.dw2 = ConvBnRelu(32, 32, 3, groups=32)            # residual branch
        self.pw2 = ConvBnRelu(32, 32, 1, relu=False)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.pw1(self.dw1(self.stem(x)))
        x = F.relu(x + self.pw2(self.dw2(x)))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


# ----------------------------------------------------------------------------------------------
# gpt_tiny and the transformer benchmark block


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads, seq_len, causal=True):
        super().__init__()
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.causal = causal
        # A constant lower-triangular mask: exported as an initializer feeding Where.
        self.register_buffer("mask", torch.tril(torch.ones(seq_len, seq_len, dtype=torch.bool)))

    def forward(self, x):
        b, s, d = x.shape  # batch is dynamic: exported as Shape/Gather feeding Reshape

        def heads(t):
            return t.reshape(b, s, self.n_heads, self.d_head).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_head)
        if self.causal:
            scores = scores.masked_fill(~self.mask, -1e9)
        attn = torch.softmax(scores, dim=-1)
        y = torch.matmul(attn, v).transpose(1, 2).reshape(b, s, d)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, d_model, n_heads, seq_len, d_ff, gelu_approx, causal=True):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, seq_len, causal)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.gelu_approx = gelu_approx

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate=self.gelu_approx))


class GptTiny(nn.Module):
    """int64 token ids [N,16] -> logits [N,16,256]."""

    def __init__(self, vocab=256, d_model=64, n_heads=4, seq_len=16, n_blocks=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(seq_len, d_model)
        self.register_buffer("positions", torch.arange(seq_len, dtype=torch.int64))
        approx = ["none", "tanh"]
        self.blocks = nn.ModuleList(
            [Block(d_model, n_heads, seq_len, 4 * d_model, approx[i % 2]) for i in range(n_blocks)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, ids):
        x = self.tok(ids) + self.pos(self.positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


class TransformerBench(nn.Module):
    """[N,64,256] -> [N,64,256]: one non-causal pre-LN encoder block."""

    def __init__(self):
        super().__init__()
        self.block = Block(256, 4, 64, 1024, "none", causal=False)

    def forward(self, x):
        return self.block(x)


# ----------------------------------------------------------------------------------------------
# resnet_bench


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = ConvBnRelu(cin, cout, 3, stride=stride)
        self.c2 = ConvBnRelu(cout, cout, 3, relu=False)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = ConvBnRelu(cin, cout, 1, stride=stride, relu=False)

    def forward(self, x):
        skip = x if self.down is None else self.down(x)
        return F.relu(self.c2(self.c1(x)) + skip)


class ResnetBench(nn.Module):
    """[N,3,64,64] -> [N,100] logits."""

    def __init__(self, widths=(48, 96, 192), classes=100):
        super().__init__()
        self.stem = ConvBnRelu(3, widths[0], 3, stride=2)  # 32x32
        layers, cin = [], widths[0]
        for i, w in enumerate(widths):
            layers += [BasicBlock(cin, w, 1 if i == 0 else 2), BasicBlock(w, w, 1)]
            cin = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ----------------------------------------------------------------------------------------------
# Export


def randomize_norms(model, gen):
    """Non-trivial BatchNorm running statistics and affine parameters (so that folding BN changes
    the weights measurably), and non-trivial LayerNorm scales and biases (so that a kernel that
    ignored them would fail the comparison)."""
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            n = m.normalized_shape[0]
            m.weight.data.copy_(torch.rand(n, generator=gen) * 1.0 + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) * 1.0 + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


def structured_images(n, size, gen):
    """[n,3,size,size] inputs whose samples differ in colour and in a smooth spatial pattern (plain
    i.i.d. noise would average out in GlobalAveragePool and give near-identical logits per row)."""
    coords = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    freq = torch.rand(n, 3, 2, generator=gen) * 3 + 0.5
    phase = torch.rand(n, 3, 1, 1, generator=gen) * 6.3
    pattern = torch.sin(freq[..., 0, None, None] * 3 * xx + freq[..., 1, None, None] * 3 * yy + phase)
    colour = torch.randn(n, 3, 1, 1, generator=gen)
    return colour + pattern + 0.3 * torch.randn(n, 3, size, size, generator=gen)


def export(model, example, path, opset, input_name, output_name, keep_batchnorm):
    """Exports with a dynamic batch axis (dim 0 of input and output).

    keep_batchnorm: torch's exporter folds Conv+BatchNormalization in EVAL mode; PRESERVE mode
    (with the model already in eval()) skips that so BatchNormalization nodes stay in the graph.
    """
    mode = torch.onnx.TrainingMode.PRESERVE if keep_batchnorm else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(
        model, (example,), path,
        opset_version=opset,
        input_names=[input_name],
        output_names=[output_name],
        dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
        do_constant_folding=not keep_batchnorm,
        training=mode,
    )


def build(name, gen):
    """Returns (model, example input, opset, input name, output name, keep_batchnorm)."""
    if name == "cnn_small":
        m = CnnSmall()
        randomize_norms(m, gen)
        with torch.no_grad():  # logits of order 1, so the absolute error bar is a tight one
            m.fc.weight.copy_(torch.randn(m.fc.weight.shape, generator=gen) * 0.5)
        return m, structured_images(4, 32, gen), 13, "input", "logits", True
    if name == "gpt_tiny":
        m = GptTiny()
        randomize_norms(m, gen)
        ids = torch.randint(0, 256, (2, 16), generator=gen, dtype=torch.int64)
        return m, ids, 17, "input_ids", "logits", False
    if name == "resnet_bench":
        m = ResnetBench()
        randomize_norms(m, gen)
        return m, torch.randn(2, 3, 64, 64, generator=gen), 13, "input", "logits", False
    if name == "transformer_bench":
        m = TransformerBench()
        randomize_norms(m, gen)
        return m, torch.randn(2, 64, 256, generator=gen), 17, "input", "output", False
    raise ValueError(name)


kCommitted = ["cnn_small", "gpt_tiny"]
kBench = ["resnet_bench", "transformer_bench"]


def make(name, out_dir, write_samples):
    torch.manual_seed(kSeed)
    gen = torch.Generator().manual_seed(kSeed)
    model, example, opset, in_name, out_name, keep_bn = build(name, gen)
    model.eval()
    path = os.path.join(out_dir, name + ".onnx")
    with torch.no_grad():
        export(model, example, path, opset, in_name, out_name, keep_bn)
        out = model(example)
    if write_samples:
        np.save(os.path.join(out_dir, name + ".input.npy"), example.numpy())
        np.save(os.path.join(out_dir, name + ".torch_out.npy"), out.numpy().astype(np.float32))
    params = sum(p.numel() for p in model.parameters())
    print(f"{path}: {os.path.getsize(path)} bytes, {params} parameters, opset {opset}, "
          f"input {in_name} {list(example.shape)} {example.dtype}, output {out_name} {list(out.shape)}")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--bench", action="store_true",
                    help="write the benchmark models (resnet_bench, transformer_bench) instead")
    ap.add_argument("--only", nargs="*", help="model names to write (default: all of the group)")
    args = ap.parse_args(argv)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(args.out_dir, exist_ok=True)
    names = kBench if args.bench else kCommitted
    for name in args.only or names:
        if name not in names:
            sys.exit(f"make_models.py: unknown model '{name}', expected one of {names}")
        make(name, args.out_dir, write_samples=not args.bench)


if __name__ == "__main__":
    main(sys.argv[1:])
