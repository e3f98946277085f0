"""The sLSTM's fused formulas: one stabilized step forward and its hand-derived backward, for
the fused engine (`gated.engine.fused` owns the loop, masks, direction and autograd).

Backward of one step (dh, dc, dn, dm: the gradients reaching h_t, c_t, n_t, m_t):

    do   = dh h̃,  dh̃ = dh o,  h̃ = c / n
    dc  += dh̃ / n,            dn  -= dh̃ h̃ / n
    di'  = dc z + dn,         df'  = dc c_{t-1} + dn n_{t-1},   dz = dc i'
    dm  -= di' i' + df' f'    (i' = exp(ĩ - m), f' = exp(a - m), a = log f + m_{t-1})
    da   = df' f' + dm [a > ĩ],   dĩ = di' i' + dm [a <= ĩ]   (ties split as torch.maximum)
    df̃   = da (1 - σ(f̃)) (sigmoid) or da (exponential);  dm_{t-1} = da
    dc_{t-1} = dc f',  dn_{t-1} = dn f',  dh_{t-1} = [dĩ, df̃, dz̃, dõ] Rᵀ (block-diagonal)
"""

from __future__ import annotations

from typing import Any

import torch

from gated.engine.fused import by_time, project_time_major
from gated.engine.spec import Formulas

State = tuple[torch.Tensor, ...]


def _block_product(h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """`h (batch, units)` times the block-diagonal `r (heads, hd, 4 hd)` -> `(batch, 4 units)`
    in the i, f, z, o block layout."""
    heads, hd, _ = r.shape
    out = torch.bmm(h.view(-1, heads, hd).transpose(0, 1), r)
    return out.view(heads, -1, 4, hd).permute(1, 2, 0, 3).reshape(h.shape[0], -1)


def _block_product_t(d: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """`d (batch, 4 units)` times the transpose of the block-diagonal `r` -> `(batch, units)`."""
    heads, hd, _ = r.shape
    per_head = d.view(-1, 4, heads, hd).permute(2, 0, 1, 3).reshape(heads, -1, 4 * hd)
    return torch.bmm(per_head, r.transpose(1, 2)).transpose(0, 1).reshape(d.shape[0], -1)


class SLSTMStepper:
    """The stabilized sLSTM step; per step it keeps h_in, the previous c and n, the gates i',
    f', z, o, h̃ = c/n, n, and which side of the max won."""

    def __init__(self, spec: Any, weights: dict, recurrent_mask: torch.Tensor | None,
                 training: bool, save: bool) -> None:
        self.u = spec.config.units
        self.exp_forget = spec.config.forget_gate == "exponential"
        self.R = weights["R"]
        self.rm = recurrent_mask
        self.save = save
        self.s: dict[str, list] = {k: [] for k in (
            "h_in", "c_prev", "n_prev", "ip", "fp", "z", "o", "ht", "n", "a_wins", "sig_f")}
        self.k = 0

    def forward(self, t: int, xw: torch.Tensor, states: State):
        h_prev, c_prev, n_prev, m_prev = states
        h_in = h_prev if self.rm is None else h_prev * self.rm
        pre = xw + _block_product(h_in, self.R)
        i_raw, f_raw, z_raw, o_raw = pre.split(self.u, dim=1)
        if self.exp_forget:
            log_f, sig_f = f_raw, None
        else:
            log_f = torch.nn.functional.logsigmoid(f_raw)
            sig_f = torch.sigmoid(f_raw)
        a = log_f + m_prev
        m = torch.maximum(a, i_raw)
        ip = torch.exp(i_raw - m)
        fp = torch.exp(a - m)
        z = torch.tanh(z_raw)
        o = torch.sigmoid(o_raw)
        c = fp * c_prev + ip * z
        n = fp * n_prev + ip
        ht = c / n
        h = o * ht
        if self.save:
            s = self.s
            for key, value in (("h_in", h_in), ("c_prev", c_prev), ("n_prev", n_prev),
                               ("ip", ip), ("fp", fp), ("z", z), ("o", o), ("ht", ht),
                               ("n", n), ("sig_f", sig_f)):
                s[key].append(value)
            # torch.maximum's gradient: 1 to the larger, 1/2 each on a tie
            s["a_wins"].append((a > i_raw).to(a.dtype) + 0.5 * (a == i_raw).to(a.dtype))
        return h, (h, c, n, m)

    def begin_backward(self, grad_ys: torch.Tensor) -> None:
        self.k = 0
        batch, steps = grad_ys.shape[0], grad_ys.shape[1]
        self.DZ = grad_ys.new_empty(steps, batch, 4 * self.u)

    def backward(self, t: int, dh: torch.Tensor, drest: list) -> list:
        s = self.s
        self.k += 1
        j = -self.k
        dc, dn, dm = drest
        o, ht, n = s["o"][j], s["ht"][j], s["n"][j]
        ip, fp, z = s["ip"][j], s["fp"][j], s["z"][j]
        do_raw = dh * ht * o * (1.0 - o)
        dht = dh * o
        dc = dc + dht / n
        dn = dn - dht * ht / n
        dip = (dc * z + dn) * ip
        dfp = (dc * s["c_prev"][j] + dn * s["n_prev"][j]) * fp
        dz_raw = dc * ip * (1.0 - z * z)
        dm = dm - dip - dfp
        wins = s["a_wins"][j]
        da = dfp + dm * wins
        di_raw = dip + dm * (1.0 - wins)
        df_raw = da if self.exp_forget else da * (1.0 - s["sig_f"][j])
        dpre = torch.cat([di_raw, df_raw, dz_raw, do_raw], dim=1, out=self.DZ[t])
        dh_in = _block_product_t(dpre, self.R)
        if self.rm is not None:
            dh_in = dh_in * self.rm
        return [dh_in, dc * fp, dn * fp, da]

    def weight_grads(self, order: range, steps: int) -> dict:
        heads, hd, _ = self.R.shape
        h_rows = by_time(self.s["h_in"], order, steps).view(-1, heads, hd)
        d_rows = self.DZ.view(-1, 4, heads, hd)
        grad_r = torch.einsum("nkd,ngke->kdge", h_rows, d_rows).reshape(heads, hd, 4 * hd)
        return {"xw": self.DZ, "R": grad_r}


class SLSTMFused:
    """`spec.formulas["fused"].impl` of the sLSTM (see `gated.engine.fused`)."""

    Stepper = SLSTMStepper

    @staticmethod
    def recurrent_weights(spec: Any) -> dict:
        return {"R": spec.weights["recurrent_kernel"]}

    @staticmethod
    def project(spec: Any, x: torch.Tensor) -> torch.Tensor:
        """`cell.input_projection(x)`, TIME-MAJOR `(time, batch, 4 units)`, bias fused."""
        return project_time_major(x, spec.weights["kernel"], spec.weights.get("bias"))


FORMULAS = Formulas(backend="fused",
                    features=frozenset({"forget_gate", "num_heads", "use_bias"}),
                    impl=SLSTMFused)
