"""The xLSTM blocks and their stack (Beck et al. 2024, section 2.4 and figures 9-10).

- `sLSTMBlock`, post-up-projection: `y = x + GN(sLSTM(LN(x)))`, then a gated MLP
  `y + W_down (GELU(LN(y) W_gate) ⊙ LN(y) W_up)` with `proj_factor` 4/3. A causal depthwise
  convolution (kernel 4, swish) of LN(x) is fed to the cell beside LN(x); GN is a per-head
  layer norm.
- `mLSTMBlock`, pre-up-projection: LN(x) is projected up by `proj_factor` 2 into a cell branch
  and a gate branch z; the cell branch goes through a causal convolution and swish, which feeds
  the queries and keys (block-diagonal projections of `qkv_block_size`), the values read the
  un-convolved branch; the input and forget gates read `[q, k, v]`. The mLSTM output is
  group-normed, gets the learnable skip `+ s ⊙ conv`, is gated by `swish(z)` and projected down:
  `y = x + W_down ((GN(h̃) + s ⊙ c) ⊙ swish(z))`. The mLSTM runs in its chunkwise form.
- `xLSTMBlockStack`: `num_blocks` residual blocks, sLSTM at the positions `slstm_at` and mLSTM
  elsewhere (NX-AI's `xLSTMBlockStackConfig(slstm_at=[...])`; "xLSTM[7:1]" is one sLSTM per 8
  blocks), then a final layer norm.

Deviations from NX-AI's code, for simplicity: the sLSTM cell reads the convolved and the plain
input with one dense kernel (NX-AI feeds the convolution to the i and f gates only, through
block-diagonal projections), and the layer norms carry a bias.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gated.cells.mlstm import forms
from gated.layer import Layer
from gated.layers.core import LayerNormalization
from gated.layers.xlstm import sLSTM


def causal_conv(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Depthwise causal convolution over time: `x (batch, time, ch)`, `kernel (ch, width)`;
    step t sees steps t - width + 1 .. t."""
    width = kernel.shape[1]
    y = F.conv1d(F.pad(x.transpose(1, 2), (width - 1, 0)), kernel.unsqueeze(1), bias,
                 groups=kernel.shape[0])
    return y.transpose(1, 2)


def head_norm(x: torch.Tensor, heads: int, gamma: torch.Tensor, eps: float) -> torch.Tensor:
    """Layer norm of each head's slice of the last axis (a group norm), then a gain."""
    shape = x.shape
    y = F.layer_norm(x.reshape(*shape[:-1], heads, -1), (shape[-1] // heads,), eps=eps)
    return y.reshape(shape) * gamma


def blockwise(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """`x (..., blocks * size)` times the block-diagonal `weight (blocks, size, size)`."""
    blocks, size, _ = weight.shape
    y = torch.einsum("...bi,bij->...bj", x.reshape(*x.shape[:-1], blocks, size), weight)
    return y.reshape(x.shape)


def _check_heads(owner: str, width: int, heads: int, what: str) -> None:
    if width % heads:
        raise ValueError(f"{owner}: {what} {width} must be divisible by num_heads={heads}.")


class sLSTMBlock(Layer):  # noqa: N801
    """The sLSTM block (post-up-projection): residual sLSTM, then a residual gated MLP.

    Args:
        num_heads: Heads of the sLSTM (divide the input size).
        conv_kernel_size: Width of the causal convolution (0: none).
        proj_factor: Up-projection of the gated MLP (4/3 in the paper).
        forget_gate: `"sigmoid"` or `"exponential"`.
        epsilon: Epsilon of the layer and group norms.
        **kwargs: `name`, `dtype`, `trainable`.

    Input and output: `(batch, time, features)`.

    Example:
        >>> block = sLSTMBlock(num_heads=4)
        >>> block(torch.randn(2, 10, 16)).shape
        torch.Size([2, 10, 16])
    """

    input_ndim = 3

    def __init__(self, num_heads: int = 4, conv_kernel_size: int = 4,
                 proj_factor: float = 4 / 3, forget_gate: str = "sigmoid",
                 epsilon: float = 1e-5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.conv_kernel_size = int(conv_kernel_size)
        self.proj_factor = float(proj_factor)
        self.forget_gate = forget_gate
        self.epsilon = float(epsilon)

    def build(self, input_shape: tuple) -> None:
        d = int(input_shape[-1])
        _check_heads("sLSTMBlock", d, self.num_heads, "the input size")
        dtype = self.dtype
        self.norm = LayerNormalization(epsilon=self.epsilon, dtype=dtype)
        self.norm._maybe_build((None, None, d))
        if self.conv_kernel_size:
            self.add_weight("conv_kernel", (d, self.conv_kernel_size), "glorot_uniform")
            self.add_weight("conv_bias", (d,), "zeros")
        self.cell_layer = sLSTM(d, num_heads=self.num_heads, forget_gate=self.forget_gate,
                                return_sequences=True, dtype=dtype)
        self.cell_layer._maybe_build((None, None, 2 * d if self.conv_kernel_size else d))
        self.add_weight("group_norm_gamma", (d,), "ones")
        inner = max(1, round(self.proj_factor * d))
        self.ffn_norm = LayerNormalization(epsilon=self.epsilon, dtype=dtype)
        self.ffn_norm._maybe_build((None, None, d))
        self.add_weight("up_kernel", (d, 2 * inner), "glorot_uniform")
        self.add_weight("down_kernel", (inner, d), "glorot_uniform")
        self.input_features = d

    def forward(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        xn = self.norm(inputs)
        cell_in = xn
        if self.conv_kernel_size:
            conv = F.silu(causal_conv(xn, self.conv_kernel, self.conv_bias))
            cell_in = torch.cat([conv, xn], dim=-1)
        h = self.cell_layer(cell_in, training=training)
        y = inputs + head_norm(h, self.num_heads, self.group_norm_gamma, self.epsilon)
        gate, up = (self.ffn_norm(y) @ self.up_kernel).chunk(2, dim=-1)
        return y + (F.gelu(gate) * up) @ self.down_kernel

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_heads=self.num_heads, conv_kernel_size=self.conv_kernel_size,
                      proj_factor=self.proj_factor, forget_gate=self.forget_gate,
                      epsilon=self.epsilon)
        return config


class mLSTMBlock(Layer):  # noqa: N801
    """The mLSTM block (pre-up-projection), with the causal convolution and learnable skip.

    Args:
        num_heads: Heads of the mLSTM (divide the inner size `proj_factor * features`).
        conv_kernel_size: Width of the causal convolution.
        proj_factor: Up-projection factor (2 in the paper).
        qkv_block_size: Block size of the block-diagonal q, k, v projections.
        forget_gate: `"sigmoid"` or `"exponential"`.
        chunk_size: Chunk length of the chunkwise form.
        epsilon: Epsilon of the layer and group norms.
        **kwargs: `name`, `dtype`, `trainable`.

    Input and output: `(batch, time, features)`.

    Example:
        >>> block = mLSTMBlock(num_heads=4)
        >>> block(torch.randn(2, 10, 16)).shape
        torch.Size([2, 10, 16])
    """

    input_ndim = 3

    def __init__(self, num_heads: int = 4, conv_kernel_size: int = 4, proj_factor: float = 2.0,
                 qkv_block_size: int = 4, forget_gate: str = "sigmoid", chunk_size: int = 64,
                 epsilon: float = 1e-5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if conv_kernel_size < 1:
            raise ValueError(f"mLSTMBlock: `conv_kernel_size` must be >= 1, received "
                             f"{conv_kernel_size!r}.")
        if forget_gate not in ("sigmoid", "exponential"):
            raise ValueError(f"mLSTMBlock: `forget_gate` must be 'sigmoid' or 'exponential', "
                             f"received {forget_gate!r}.")
        self.num_heads = int(num_heads)
        self.conv_kernel_size = int(conv_kernel_size)
        self.proj_factor = float(proj_factor)
        self.qkv_block_size = int(qkv_block_size)
        self.forget_gate = forget_gate
        self.chunk_size = int(chunk_size)
        self.epsilon = float(epsilon)

    def build(self, input_shape: tuple) -> None:
        d = int(input_shape[-1])
        inner = round(self.proj_factor * d)
        _check_heads("mLSTMBlock", inner, self.num_heads, "the inner size")
        if inner % self.qkv_block_size:
            raise ValueError(f"mLSTMBlock: the inner size {inner} must be divisible by "
                             f"qkv_block_size={self.qkv_block_size}.")
        heads, blocks = self.num_heads, inner // self.qkv_block_size
        self.inner = inner
        self.norm = LayerNormalization(epsilon=self.epsilon, dtype=self.dtype)
        self.norm._maybe_build((None, None, d))
        self.add_weight("up_kernel", (d, 2 * inner), "glorot_uniform")
        self.add_weight("conv_kernel", (inner, self.conv_kernel_size), "glorot_uniform")
        self.add_weight("conv_bias", (inner,), "zeros")
        for name in ("query_kernel", "key_kernel", "value_kernel"):
            self.add_weight(name, (blocks, self.qkv_block_size, self.qkv_block_size),
                            "glorot_uniform")
        self.add_weight("gate_kernel", (3 * inner, 2 * heads), "zeros")
        self.add_weight("gate_bias", (2 * heads,), "zeros")
        with torch.no_grad():  # NX-AI: input bias ~ N(0, 0.1), forget bias linspace(3, 6)
            self.gate_bias[:heads].normal_(0.0, 0.1)
            self.gate_bias[heads:] = torch.linspace(3.0, 6.0, heads)
        self.add_weight("group_norm_gamma", (inner,), "ones")
        self.add_weight("skip", (inner,), "ones")
        self.add_weight("down_kernel", (inner, d), "glorot_uniform")
        self.input_features = d

    def forward(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        batch, steps, _ = inputs.shape
        heads = self.num_heads
        cell_in, z = (self.norm(inputs) @ self.up_kernel).chunk(2, dim=-1)
        conv = F.silu(causal_conv(cell_in, self.conv_kernel, self.conv_bias))
        q = blockwise(conv, self.query_kernel)
        k = blockwise(conv, self.key_kernel)
        v = blockwise(cell_in, self.value_kernel)
        i_raw, f_raw = (torch.cat([q, k, v], -1) @ self.gate_kernel + self.gate_bias).chunk(
            2, dim=-1)
        log_f = F.logsigmoid(f_raw) if self.forget_gate == "sigmoid" else f_raw

        def by_head(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(batch, steps, heads, -1).transpose(1, 2)

        h_tilde, _ = forms.chunkwise(by_head(q), by_head(k), by_head(v),
                                     i_raw.transpose(1, 2), log_f.transpose(1, 2),
                                     chunk_size=self.chunk_size)
        h = h_tilde.transpose(1, 2).reshape(batch, steps, self.inner)
        h = head_norm(h, heads, self.group_norm_gamma, self.epsilon) + self.skip * conv
        return inputs + (h * F.silu(z)) @ self.down_kernel

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_heads=self.num_heads, conv_kernel_size=self.conv_kernel_size,
                      proj_factor=self.proj_factor, qkv_block_size=self.qkv_block_size,
                      forget_gate=self.forget_gate, chunk_size=self.chunk_size,
                      epsilon=self.epsilon)
        return config


class xLSTMBlockStack(Layer):  # noqa: N801
    """A stack of residual xLSTM blocks: sLSTM blocks at `slstm_at`, mLSTM blocks elsewhere.

    Args:
        num_blocks: Number of blocks.
        slstm_at: Positions (0-based) of the sLSTM blocks, or `"all"`; `[]` is an mLSTM-only
            stack ("xLSTM[1:0]"), as NX-AI's `xLSTMBlockStackConfig(slstm_at=...)`.
        num_heads: Heads of every block.
        conv_kernel_size: Causal convolution width of every block.
        mlstm_proj_factor, slstm_proj_factor: Up-projections of the two block kinds.
        qkv_block_size: Block size of the mLSTM's q, k, v projections.
        chunk_size: Chunk length of the mLSTM's chunkwise form.
        forget_gate: `"sigmoid"` or `"exponential"`, for both cells.
        post_blocks_norm: A final layer norm after the blocks.
        **kwargs: `name`, `dtype`, `trainable`.

    Input and output: `(batch, time, features)`.

    Example:
        >>> stack = xLSTMBlockStack(num_blocks=4, slstm_at=[1], num_heads=4)
        >>> stack(torch.randn(2, 10, 16)).shape
        torch.Size([2, 10, 16])
    """

    input_ndim = 3

    def __init__(self, num_blocks: int = 2, slstm_at: Any = (), num_heads: int = 4,
                 conv_kernel_size: int = 4, mlstm_proj_factor: float = 2.0,
                 slstm_proj_factor: float = 4 / 3, qkv_block_size: int = 4,
                 chunk_size: int = 64, forget_gate: str = "sigmoid",
                 post_blocks_norm: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_blocks = int(num_blocks)
        if self.num_blocks < 1:
            raise ValueError(f"xLSTMBlockStack: `num_blocks` must be >= 1, received "
                             f"{num_blocks!r}.")
        positions = list(range(self.num_blocks)) if slstm_at == "all" else list(slstm_at)
        bad = [p for p in positions if not isinstance(p, int) or not 0 <= p < self.num_blocks]
        if bad:
            raise ValueError(f"xLSTMBlockStack: `slstm_at` must list block positions in "
                             f"[0, {self.num_blocks}), received {slstm_at!r}.")
        self.slstm_at = sorted(set(positions))
        self.num_heads = int(num_heads)
        self.conv_kernel_size = int(conv_kernel_size)
        self.mlstm_proj_factor = float(mlstm_proj_factor)
        self.slstm_proj_factor = float(slstm_proj_factor)
        self.qkv_block_size = int(qkv_block_size)
        self.chunk_size = int(chunk_size)
        self.forget_gate = forget_gate
        self.post_blocks_norm = bool(post_blocks_norm)
        blocks = []
        for k in range(self.num_blocks):
            if k in self.slstm_at:
                blocks.append(sLSTMBlock(num_heads, conv_kernel_size, slstm_proj_factor,
                                         forget_gate, dtype=self.dtype))
            else:
                blocks.append(mLSTMBlock(num_heads, conv_kernel_size, mlstm_proj_factor,
                                         qkv_block_size, forget_gate, chunk_size,
                                         dtype=self.dtype))
        self.blocks = torch.nn.ModuleList(blocks)
        self.post_norm = (LayerNormalization(epsilon=1e-5, dtype=self.dtype)
                          if self.post_blocks_norm else None)

    def build(self, input_shape: tuple) -> None:
        for block in self.blocks:
            block._maybe_build(input_shape)
        if self.post_norm is not None:
            self.post_norm._maybe_build(input_shape)
        self.input_features = int(input_shape[-1])

    def forward(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        x = inputs
        for block in self.blocks:
            x = block(x, training=training)
        return self.post_norm(x) if self.post_norm is not None else x

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_blocks=self.num_blocks, slstm_at=list(self.slstm_at),
                      num_heads=self.num_heads, conv_kernel_size=self.conv_kernel_size,
                      mlstm_proj_factor=self.mlstm_proj_factor,
                      slstm_proj_factor=self.slstm_proj_factor,
                      qkv_block_size=self.qkv_block_size, chunk_size=self.chunk_size,
                      forget_gate=self.forget_gate, post_blocks_norm=self.post_blocks_norm)
        return config


__all__ = ["causal_conv", "mLSTMBlock", "sLSTMBlock", "xLSTMBlockStack"]
