"""The fused engine: hand-written BPTT as a `torch.autograd.Function`, in plain torch ops.

Forward: the input projection of all steps is one GEMM, outside the Function (autograd handles
the kernel, the bias and the input layer norm): `input_projection` computes exactly what
`cell.input_projection` does for the built-in cells, time-major and with the bias fused into
the GEMM. The Function then runs a tight loop over the recurrence and keeps only what backward
needs (gate activations, cell states, the recurrent inputs; layer-norm statistics). Backward
runs the loop in reverse with the per-family step derivatives, writes the gate gradients of
each step into one time-major buffer (which is the gradient of the projection), and computes
each recurrent weight gradient with ONE GEMM over all steps at the end (`H_prev^T @ dZ`);
peephole weights with one reduction. With layer norm, dU needs the gradient *before* the
recurrent norm, so it is accumulated in chunks of 16 steps instead (bounded memory); the norm
gains are accumulated per step. Peak training memory stays below the eager autograd loop's.

Covered: every `LSTMCell` flag (blocks, peepholes, CIFG, full gate recurrence, projection,
layer norm, zoneout in training and inference, any activation of `_DERIVATIVES`), `GRUCell`
(both `reset_after` forms), `SimpleRNNCell`; masks of any pattern (carry-forward semantics),
`reverse`, initial states with gradients, `recurrent_mask` (recurrent dropout).
Not covered (the reference engine runs them): user cells, `StackedRNNCells`, activations without
a derivative in `_DERIVATIVES` (e.g. gelu, elu, softplus), masks or recurrent masks that require
grad, parameters whose dtype or device differ from the input's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from gated.engine.platform import cell_family, family_reason

State = tuple[torch.Tensor, ...]

_sigmoid_bwd = torch.ops.aten.sigmoid_backward
_tanh_bwd = torch.ops.aten.tanh_backward
_threshold_bwd = torch.ops.aten.threshold_backward


def _between(g: torch.Tensor, y: torch.Tensor, low: float, high: float, scale: float = 1.0):
    return g * ((y > low) & (y < high)).to(g.dtype) * scale


#: derivative of an activation written with its OUTPUT y: d act / d x = f(y) (grad g times it).
_DERIVATIVES = {
    "sigmoid": _sigmoid_bwd,
    "tanh": _tanh_bwd,
    "relu": lambda g, y: _threshold_bwd(g, y, 0),
    "linear": lambda g, y: g,
    "tanh2": lambda g, y: _tanh_bwd(g, 0.5 * y),
    "half_tanh": lambda g, y: _tanh_bwd(0.5 * g, y),
    "hard_sigmoid": lambda g, y: _between(g, y, 0.0, 1.0, 1.0 / 6.0),
    "relu6": lambda g, y: _between(g, y, 0.0, 6.0),
    "exponential": lambda g, y: g * y,
    "softsign": lambda g, y: g * (1.0 - y.abs()) ** 2,
}


def activation_name(fn: Any) -> str | None:
    """The Keras name of an activation given by name or as one of gated's functions."""
    if isinstance(fn, str):
        return fn
    from gated import activations

    try:
        return activations.serialize(fn)
    except ValueError:
        return None


def _derivative(fn: Any):
    return _DERIVATIVES.get(activation_name(fn) or "")


def _activation_names(cell: Any, family: str) -> list[tuple[str, Any]]:
    if family == "lstm":
        return [("recurrent_activation", cell.recurrent_activation_name),
                ("input activation", cell.input_activation_name),
                ("output activation", cell.output_activation_name)]
    if family == "gru":
        return [("activation", cell.activation_name),
                ("recurrent_activation", cell.recurrent_activation_name)]
    return [("activation", cell.activation_name)]


def supports(cell: Any, x: torch.Tensor, mask: torch.Tensor | None = None,
             reverse: bool = False, recurrent_mask: Any = None,
             training: bool = False) -> tuple[bool, str]:
    """Whether this engine runs the configuration exactly, and why (not)."""
    family = cell_family(cell)
    if family is None:
        return False, f"{family_reason(cell)} (no fused step formulas)"
    if not getattr(cell, "built", False):
        return False, "the cell is not built"
    for what, fn in _activation_names(cell, family):
        if _derivative(fn) is None:
            name = activation_name(fn) or getattr(fn, "__name__", repr(fn))
            return False, f"{what} {name!r} has no fused derivative"
    if not x.is_floating_point():
        return False, f"dtype {x.dtype}"
    for p in cell.parameters():
        if p.dtype != x.dtype or p.device != x.device:
            return False, (f"parameters are {p.dtype} on {p.device}, inputs {x.dtype} on "
                           f"{x.device}")
    if recurrent_mask is not None:
        if not isinstance(recurrent_mask, torch.Tensor):
            return False, "recurrent_mask is not a tensor"
        if recurrent_mask.requires_grad:
            return False, "a recurrent_mask that requires grad"
    if mask is not None and mask.requires_grad:
        return False, "a mask that requires grad"
    return True, f"{type(cell).__name__}: fused BPTT in torch ops"


# ====================================================================== the drivers
def _run_forward(stepper: Any, xs: tuple, states: State, masks: tuple | None, order: range,
                 out_size: int) -> tuple[torch.Tensor, State]:
    """The forward loop with Keras' mask semantics around `stepper.forward(t, xw_t, states)`."""
    outputs: list = [None] * len(xs)
    y_prev = None
    if masks is not None:
        x0 = xs[0]
        y_prev = x0.new_zeros(x0.shape[0], out_size)
    for t in order:
        y, new_states = stepper.forward(t, xs[t], states)
        if masks is not None:
            keep = masks[t]
            y = torch.where(keep, y, y_prev)
            new_states = tuple(torch.where(keep, n, s)
                               for n, s in zip(new_states, states, strict=True))
            y_prev = y
        outputs[t] = y
        states = new_states
    return torch.stack(outputs, dim=1), states


def _run_backward(stepper: Any, grad_ys: torch.Tensor, grad_states: tuple, masks: tuple | None,
                  order: range) -> tuple:
    """Reverse loop: returns the grads of the initial states (state 0 is the step output)."""
    dys = grad_ys.unbind(1)
    dstates = list(grad_states)
    carry = None
    zero = torch.zeros((), dtype=grad_ys.dtype, device=grad_ys.device)
    for t in reversed(order):
        g = dys[t]
        if masks is None:
            dprev = stepper.backward(t, g + dstates[0], dstates[1:])
            dstates = list(dprev)
            continue
        keep = masks[t]
        if carry is not None:
            g = g + carry
        dy = torch.where(keep, g, zero)
        carry = torch.where(keep, zero, g)
        new = [torch.where(keep, d, zero) for d in dstates]
        passed = [torch.where(keep, zero, d) for d in dstates]
        dprev = stepper.backward(t, dy + new[0], new[1:])
        dstates = [a + b for a, b in zip(dprev, passed, strict=True)]
    return tuple(dstates)


class _ChunkedGemm:
    """`acc += sum_t left_t^T @ right_t`, one GEMM per `chunk` steps (bounded extra memory)."""

    def __init__(self, acc: torch.Tensor, batch: int, chunk: int = 16) -> None:
        self.acc = acc
        self.lefts: list[torch.Tensor] = []
        self.buffer = acc.new_empty(chunk * batch, acc.shape[1])
        self.batch = batch
        self.chunk = chunk

    def add(self, left: torch.Tensor, right: torch.Tensor) -> None:
        k = len(self.lefts)
        self.buffer[k * self.batch:(k + 1) * self.batch].copy_(right)
        self.lefts.append(left)
        if len(self.lefts) == self.chunk:
            self.flush()

    def flush(self) -> torch.Tensor:
        if self.lefts:
            rows = len(self.lefts) * self.batch
            self.acc.addmm_(torch.cat(self.lefts).t(), self.buffer[:rows])
            self.lefts = []
        return self.acc


_ln = torch.native_layer_norm
_ln_backward = torch.ops.aten.native_layer_norm_backward


def _cat_rows(items: list) -> torch.Tensor:
    return torch.cat(items, dim=0)


def _by_time(items: list, order: range, steps: int) -> torch.Tensor:
    """Stack per-step `(batch, n)` tensors listed in processing order into `(time * batch, n)`
    rows in time order: the row order of the time-major `(time, batch, n)` gradient buffers."""
    by_time = [None] * steps
    for k, t in enumerate(order):
        by_time[t] = items[k]
    return torch.cat(by_time, dim=0)


# ====================================================================== LSTM
class _LSTMStepper:
    """Forward and backward of one LSTM step, for every flag of `LSTMCell`.

    Per step it keeps: the recurrent input h_in, c_{t-1}, the gate activations, g, h(c_t),
    c_t, and with the flags the layer-norm statistics, the zoneout draws, a_{t-1}, o*h(c_t).
    """

    def __init__(self, cell: Any, weights: dict, recurrent_mask: torch.Tensor | None,
                 training: bool, save: bool) -> None:
        u = cell.units
        self.u = u
        self.blocks = cell.blocks
        self.gates = cell.gates
        self.pos = {b: k for k, b in enumerate(self.blocks)}
        self.coupled = cell.coupled_gates
        self.sigma = cell.recurrent_activation
        self.g_act = cell.input_activation
        self.h_act = cell.output_activation
        self.sigma_d = _derivative(cell.recurrent_activation_name)
        self.g_d = _derivative(cell.input_activation_name)
        self.h_d = _derivative(cell.output_activation_name)
        self.w = weights
        self.U, self.Ut = weights["U"], weights["U"].t()
        self.rm = recurrent_mask
        self.training = training
        self.save = save
        self.eps = cell.layer_norm_epsilon
        self.layer_norm = cell.layer_norm
        self.proj = bool(cell.proj_size)
        if self.proj:
            self.P, self.Pt = weights["P"], weights["P"].t()
        self.fgr = cell.full_gate_recurrence
        self.zc, self.zh = cell.zoneout_cell, cell.zoneout_hidden
        self.peep = {}
        if cell.peephole:
            self.peep = dict(zip(cell.peephole_gates, weights["peephole"].unbind(0),
                                 strict=True))
        # one activation call over all blocks when no peephole changes a gate's input
        self.sigma_all = not self.peep and bool(self.gates)
        if self.fgr:
            cols = [torch.arange(self.pos[g] * u, (self.pos[g] + 1) * u) for g in self.gates]
            self.gate_cols = torch.cat(cols).to(self.U.device)
            rfull = self.U.new_zeros(len(self.gates) * u, len(self.blocks) * u)
            rfull[:, self.gate_cols] = weights["R"]
            self.r_full, self.r_full_t = rfull, rfull.t()
        self.s: dict[str, list] = {k: [] for k in (
            "h_in", "c_prev", "c_new", "a_prev", "acts", "g", "hc", "m", "hu", "mean_h",
            "rstd_h", "mean_c", "rstd_c", "kc", "kh")}
        self.d: dict[str, list] = {"dy_pre": []}
        self.k = 0

    def begin_backward(self, grad_ys: torch.Tensor) -> None:
        self.d = {"dy_pre": []}
        self.k = 0
        self.Ut = self.U.t().contiguous()  # a contiguous B of A @ B is the fastest GEMM
        batch, steps = grad_ys.shape[0], grad_ys.shape[1]
        n = len(self.blocks) * self.u
        self.DZ = grad_ys.new_empty(steps, batch, n)  # time-major: dxw of the time-major xw
        if self.layer_norm:
            # dU needs the gradient of h U *before* the norm: accumulated in chunks of steps
            # rather than kept for all steps next to DZ (peak memory below the eager loop's).
            self.dU = _ChunkedGemm(self.U.new_zeros(self.U.shape), batch)
            self.ln_acc = {"gamma_h": grad_ys.new_zeros(n), "gamma_c": grad_ys.new_zeros(self.u),
                           "beta_c": grad_ys.new_zeros(self.u)}

    def forward(self, t: int, xw: torch.Tensor, states: State):
        w, u, pos, save, s = self.w, self.u, self.pos, self.save, self.s
        h_prev, c_prev = states[0], states[1]
        h_in = h_prev if self.rm is None else h_prev * self.rm
        if self.layer_norm:
            hu = torch.mm(h_in, self.U)
            hu_n, mean_h, rstd_h = _ln(hu, hu.shape[-1:], w["gamma_h"], None, self.eps)
            z = xw + hu_n
            if save:
                s["hu"].append(hu)
                s["mean_h"].append(mean_h)
                s["rstd_h"].append(rstd_h)
        else:
            z = torch.addmm(xw, h_in, self.U)
        if self.fgr:
            z = torch.addmm(z, states[2], self.r_full)
        zs = z.split(u, 1)
        acts = self.sigma(z).split(u, 1) if self.sigma_all else None

        def gate(name: str, c_seen: torch.Tensor) -> torch.Tensor:
            if acts is not None:
                return acts[pos[name]]
            p = self.peep.get(name)
            zg = zs[pos[name]]
            return self.sigma(zg if p is None else torch.addcmul(zg, p, c_seen))

        i = gate("i", c_prev) if "i" in pos else None
        if self.coupled:
            f = 1.0 - i
        elif "f" in pos:
            f = gate("f", c_prev)
        else:
            f = None
        g = self.g_act(zs[pos["c"]])
        ig = g if i is None else i * g
        c_new = c_prev + ig if f is None else torch.addcmul(ig, f, c_prev)
        if self.layer_norm:
            cn, mean_c, rstd_c = _ln(c_new, c_new.shape[-1:], w["gamma_c"], w["beta_c"],
                                     self.eps)
            hc = self.h_act(cn)
            if save:
                s["mean_c"].append(mean_c)
                s["rstd_c"].append(rstd_c)
        else:
            hc = self.h_act(c_new)
        o = gate("o", c_new) if "o" in pos else None
        m = hc if o is None else o * hc
        y = torch.mm(m, self.P) if self.proj else m
        if save:
            s["h_in"].append(h_in)
            s["c_prev"].append(c_prev)
            s["c_new"].append(c_new)
            s["acts"].append((i, f, o))
            s["g"].append(g)
            s["hc"].append(hc)
            if self.proj:
                s["m"].append(m)
            if self.fgr:
                s["a_prev"].append(states[2])
        c_state = c_new
        if self.zc:
            kc = torch.bernoulli(torch.full_like(c_new, self.zc)) if self.training else self.zc
            c_state = kc * c_prev + (1.0 - kc) * c_new
            if save:
                s["kc"].append(kc)
        if self.zh:
            kh = torch.bernoulli(torch.full_like(y, self.zh)) if self.training else self.zh
            y = kh * h_prev + (1.0 - kh) * y
            if save:
                s["kh"].append(kh)
        if self.fgr:
            named = {"i": i, "f": f, "o": o}
            return y, (y, c_state, torch.cat([named[n] for n in self.gates], dim=-1))
        return y, (y, c_state)

    def backward(self, t: int, dy: torch.Tensor, drest: list) -> list:
        s, w, u = self.s, self.w, self.u
        self.k += 1
        j = -self.k  # saved lists run in processing order: walk them from the end
        dc = drest[0]
        dh_prev = None
        if self.zh:
            kh = s["kh"][j]
            dh_prev = kh * dy
            dy = (1.0 - kh) * dy
        if self.proj:
            self.d["dy_pre"].append(dy)
            dm = torch.mm(dy, self.Pt)
        else:
            dm = dy
        c_prev = s["c_prev"][j]
        i, f, o = s["acts"][j]
        g, hc = s["g"][j], s["hc"][j]
        if self.zc:
            kc = s["kc"][j]
            dc_prev = kc * dc
            dc = (1.0 - kc) * dc
        else:
            dc_prev = None
        dhc = dm if o is None else dm * o
        dcn = self.h_d(dhc, hc)
        if self.layer_norm:
            dcn, d_gamma, d_beta = _ln_backward(dcn, s["c_new"][j], (u,), s["mean_c"][j],
                                                s["rstd_c"][j], w["gamma_c"], w["beta_c"],
                                                [True, True, True])
            self.ln_acc["gamma_c"].add_(d_gamma)
            self.ln_acc["beta_c"].add_(d_beta)
        dc_new = dc + dcn
        da = {}
        if self.fgr:
            da = dict(zip(self.gates, drest[1].split(u, dim=-1), strict=True))
        dz: dict[str, torch.Tensor] = {}
        if o is not None:
            do = dm * hc
            if "o" in da:
                do = do + da["o"]
            dz["o"] = self.sigma_d(do, o)
            if "o" in self.peep:
                dc_new = torch.addcmul(dc_new, dz["o"], self.peep["o"])
        dz["c"] = self.g_d(dc_new if i is None else dc_new * i, g)
        dc_carry = dc_new if f is None else dc_new * f
        dc_prev = dc_carry if dc_prev is None else dc_prev + dc_carry
        df = dc_new * c_prev if f is not None else None
        if i is not None:
            di = dc_new * g
            if self.coupled:
                di = di - df
            if "i" in da:
                di = di + da["i"]
            dz["i"] = self.sigma_d(di, i)
        if "f" in self.pos:
            if "f" in da:
                df = df + da["f"]
            dz["f"] = self.sigma_d(df, f)
        for name in ("i", "f"):
            p = self.peep.get(name)
            if p is not None:
                dc_prev = torch.addcmul(dc_prev, dz[name], p)
        dz_all = torch.cat([dz[b] for b in self.blocks], dim=-1, out=self.DZ[t])
        if self.layer_norm:
            dhu, d_gamma, _ = _ln_backward(dz_all, s["hu"][j], dz_all.shape[-1:],
                                           s["mean_h"][j], s["rstd_h"][j], w["gamma_h"], None,
                                           [True, True, False])
            self.ln_acc["gamma_h"].add_(d_gamma)
            self.dU.add(s["h_in"][j], dhu)
        else:
            dhu = dz_all
        dh_in = torch.mm(dhu, self.Ut)
        if self.rm is not None:
            dh_in = dh_in * self.rm
        dh_prev = dh_in if dh_prev is None else dh_prev + dh_in
        out = [dh_prev, dc_prev]
        if self.fgr:
            out.append(torch.mm(dz_all, self.r_full_t))
        return out

    def weight_grads(self, order: range, steps: int) -> dict:
        """One GEMM per recurrent weight over all steps; dxw in input time order."""
        s, d, u = self.s, self.d, self.u

        def rows(items: list, backward: bool = False) -> torch.Tensor:
            """(time * batch, size) in the row order of DZ: (t, b)."""
            return _by_time(items[::-1] if backward else items, order, steps)

        n = self.DZ.shape[-1]
        dz_rows = self.DZ.view(-1, n)
        grads = {"xw": self.DZ}
        if self.layer_norm:
            grads["U"] = self.dU.flush()
        else:
            grads["U"] = torch.mm(rows(s["h_in"]).t(), dz_rows)
        if self.peep:
            peep = []
            for name in self.peep:
                c_seen = rows(s["c_new"] if name == "o" else s["c_prev"])
                k = self.pos[name]
                peep.append((dz_rows[:, k * u:(k + 1) * u] * c_seen).sum(0))
            grads["peephole"] = torch.stack(peep, dim=0)
        if self.fgr:
            grads["R"] = torch.mm(rows(s["a_prev"]).t(), dz_rows[:, self.gate_cols])
        if self.proj:
            grads["P"] = torch.mm(rows(s["m"]).t(), rows(d["dy_pre"], True))
        if self.layer_norm:
            grads.update(self.ln_acc)
        return grads


# ====================================================================== GRU
class _GRUStepper:
    """GRU step, both forms (`reset_after` True: cuDNN form; False: original form).

    `h = z h_prev + (1 - z) n` is computed as `n + z (h_prev - n)`; per step it keeps the
    recurrent input, [z, r], n, `h_prev - n` and the recurrent candidate part (`U_h h` or `r h`).
    """

    def __init__(self, cell: Any, weights: dict, recurrent_mask: torch.Tensor | None,
                 training: bool, save: bool) -> None:
        u = cell.units
        self.u = u
        self.after = cell.reset_after
        self.sigma, self.phi = cell.recurrent_activation, cell.activation
        self.sigma_d = _derivative(cell.recurrent_activation_name)
        self.phi_d = _derivative(cell.activation_name)
        self.b_rec = weights.get("b_rec")
        self.U, self.Ut = weights["U"], weights["U"].t()
        if not self.after:
            self.u_zr, self.u_h = self.U[:, :2 * u], self.U[:, 2 * u:]
            self.u_zr_t, self.u_h_t = self.u_zr.t(), self.u_h.t()
        self.rm = recurrent_mask
        self.save = save
        self.s: dict[str, list] = {k: [] for k in ("h_in", "zr", "n", "diff", "cand")}
        self.k = 0

    def begin_backward(self, grad_ys: torch.Tensor) -> None:
        self.k = 0
        self.Ut = self.U.t().contiguous()
        if not self.after:
            self.u_zr_t = self.Ut[:2 * self.u]
            self.u_h_t = self.Ut[2 * self.u:]
        batch, steps = grad_ys.shape[0], grad_ys.shape[1]
        self.DZ = grad_ys.new_empty(steps, batch, 3 * self.u)
        self.DHU = self.DZ.new_empty(self.DZ.shape) if self.after else None

    def forward(self, t: int, xw: torch.Tensor, states: State):
        u = self.u
        h_prev = states[0]
        h_in = h_prev if self.rm is None else h_prev * self.rm
        x_zr, x_h = xw.split((2 * u, u), 1)
        if self.after:
            hu = torch.mm(h_in, self.U) if self.b_rec is None else torch.addmm(
                self.b_rec, h_in, self.U)
            h_zr, cand = hu.split((2 * u, u), 1)
            zr = self.sigma(x_zr + h_zr)
            z, r = zr.split(u, 1)
            n = self.phi(torch.addcmul(x_h, r, cand))
        else:
            zr = self.sigma(torch.addmm(x_zr, h_in, self.u_zr))
            z, r = zr.split(u, 1)
            cand = r * h_in
            n = self.phi(torch.addmm(x_h, cand, self.u_h))
        diff = h_prev - n
        h = torch.addcmul(n, z, diff)
        if self.save:
            s = self.s
            s["h_in"].append(h_in)
            s["zr"].append(zr)
            s["n"].append(n)
            s["diff"].append(diff)
            s["cand"].append(cand)
        return h, (h,)

    def backward(self, t: int, dh: torch.Tensor, drest: list) -> list:
        s, u = self.s, self.u
        self.k += 1
        j = -self.k
        zr = s["zr"][j]
        z, r = zr.split(u, 1)
        dh_keep = dh * z
        dpre_n = self.phi_d(dh - dh_keep, s["n"][j])
        dz_gate = dh * s["diff"][j]
        if self.after:
            dr = dpre_n * s["cand"][j]
            dzr = self.sigma_d(torch.cat([dz_gate, dr], dim=-1), zr)
            dhu = torch.cat([dzr, dpre_n * r], dim=-1, out=self.DHU[t])
            dh_in = torch.mm(dhu, self.Ut)
        else:
            drh = torch.mm(dpre_n, self.u_h_t)
            dzr = self.sigma_d(torch.cat([dz_gate, drh * s["h_in"][j]], dim=-1), zr)
            dh_in = torch.addmm(drh * r, dzr, self.u_zr_t)
        torch.cat([dzr, dpre_n], dim=-1, out=self.DZ[t])
        if self.rm is not None:
            dh_in = dh_in * self.rm
        return [dh_keep + dh_in]

    def weight_grads(self, order: range, steps: int) -> dict:
        s, u = self.s, self.u
        grads = {"xw": self.DZ}
        h_rows_t = _by_time(s["h_in"], order, steps).t()
        if self.after:
            dhu = self.DHU.view(-1, 3 * u)
            grads["U"] = torch.mm(h_rows_t, dhu)
            grads["b_rec"] = dhu.sum(0)
        else:
            dz_rows = self.DZ.view(-1, 3 * u)
            cand_t = _by_time(s["cand"], order, steps).t()
            grads["U"] = torch.cat([torch.mm(h_rows_t, dz_rows[:, :2 * u]),
                                    torch.mm(cand_t, dz_rows[:, 2 * u:])], dim=1)
        return grads


# ====================================================================== SimpleRNN
class _SimpleStepper:
    """`h = phi(xw + h_in U)`; per step it keeps h_in and h."""

    def __init__(self, cell: Any, weights: dict, recurrent_mask: torch.Tensor | None,
                 training: bool, save: bool) -> None:
        self.phi = cell.activation
        self.phi_d = _derivative(cell.activation_name)
        self.U, self.Ut = weights["U"], weights["U"].t()
        self.rm = recurrent_mask
        self.save = save
        self.s: dict[str, list] = {"h_in": [], "h": []}
        self.d: dict[str, list] = {"dz": []}

    def begin_backward(self, grad_ys: torch.Tensor) -> None:
        self.d = {"dz": []}
        self.Ut = self.U.t().contiguous()

    def forward(self, t: int, xw: torch.Tensor, states: State):
        h_prev = states[0]
        h_in = h_prev if self.rm is None else h_prev * self.rm
        h = self.phi(torch.addmm(xw, h_in, self.U))
        if self.save:
            self.s["h_in"].append(h_in)
            self.s["h"].append(h)
        return h, (h,)

    def backward(self, t: int, dh: torch.Tensor, drest: list) -> list:
        dz = self.phi_d(dh, self.s["h"][-1 - len(self.d["dz"])])
        self.d["dz"].append(dz)
        dh_in = torch.mm(dz, self.Ut)
        return [dh_in if self.rm is None else dh_in * self.rm]

    def weight_grads(self, order: range, steps: int) -> dict:
        dz = self.d["dz"][::-1]
        dz_rows = _by_time(dz, order, steps)
        return {"xw": dz_rows.view(steps, -1, dz_rows.shape[-1]),
                "U": torch.mm(_cat_rows(self.s["h_in"]).t(), _cat_rows(dz))}


_STEPPERS = {"lstm": _LSTMStepper, "gru": _GRUStepper, "simple": _SimpleStepper}


# ====================================================================== the Function
class FusedScan(torch.autograd.Function):
    """`(ys, *final_states) = FusedScan.apply(spec, xw, *states, *weights)`.

    `xw` is the input projection of all steps, time-major `(time, batch, n)` (see
    `input_projection`); `ys` is batch-first `(batch, time, out)` as every engine returns.

    `spec` holds what is not a differentiable tensor: the cell, the weight names (in the order
    of the trailing arguments), the mask, the recurrent mask, the direction and the training
    flag. Gradients are returned for `xw`, every state and every weight.
    """

    @staticmethod
    def forward(ctx: Any, spec: dict, xw: torch.Tensor, *tensors: torch.Tensor):
        n_states = spec["n_states"]
        states = tuple(tensors[:n_states])
        weights = dict(zip(spec["weight_names"], tensors[n_states:], strict=True))
        stepper = _STEPPERS[spec["family"]](spec["cell"], weights, spec["recurrent_mask"],
                                            spec["training"], save=True)
        masks = spec["masks"]
        order = spec["order"]
        ys, final = _run_forward(stepper, xw.unbind(0), states, masks, order,
                                 spec["cell"].output_size)
        ctx.stepper = stepper
        ctx.spec = spec
        ctx.steps = xw.shape[0]
        # final states may be the initial ones unchanged (all steps masked): copy so that
        # autograd sees fresh outputs.
        final = tuple(f.clone() if any(f is s for s in states) else f for f in final)
        return (ys, *final)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_ys: torch.Tensor, *grad_states: torch.Tensor):
        spec, stepper = ctx.spec, ctx.stepper
        stepper.begin_backward(grad_ys)
        dstates0 = _run_backward(stepper, grad_ys, grad_states, spec["masks"], spec["order"])
        grads = stepper.weight_grads(spec["order"], ctx.steps)
        weight_grads = [grads.get(name) for name in spec["weight_names"]]
        return (None, grads["xw"], *dstates0, *weight_grads)


def _weights(cell: Any, family: str) -> dict:
    w = {"U": cell.recurrent_kernel}
    if family == "lstm":
        if cell.peephole:
            w["peephole"] = cell.peephole_kernel
        if cell.full_gate_recurrence:
            w["R"] = cell.gate_recurrent_kernel
        if cell.proj_size:
            w["P"] = cell.projection_kernel
        if cell.layer_norm:
            w["gamma_h"] = cell.recurrent_norm_gamma
            w["gamma_c"] = cell.cell_norm_gamma
            w["beta_c"] = cell.cell_norm_beta
    elif family == "gru" and cell.reset_after and cell.use_bias:
        w["b_rec"] = cell.bias[1]
    return w


def input_projection(cell: Any, family: str, x: torch.Tensor) -> torch.Tensor:
    """`cell.input_projection(x)`, TIME-MAJOR `(time, batch, n)`, bias fused into the GEMM.

    Time-major makes each step's slice (and its gradient slice) contiguous; the bias (and the
    input layer norm's affine part) fused into one pass saves a pass over the whole tensor.
    """
    batch, steps, features = x.shape
    x2d = x.transpose(0, 1).reshape(steps * batch, features)
    kernel = cell.kernel
    bias = None
    if cell.use_bias:
        bias = cell.bias[0] if family == "gru" and cell.reset_after else cell.bias
    if family == "lstm" and cell.layer_norm:
        xk = torch.mm(x2d, kernel)
        xw = torch.nn.functional.layer_norm(xk, xk.shape[-1:], cell.input_norm_gamma, bias,
                                            cell.layer_norm_epsilon)
    elif bias is not None:
        xw = torch.addmm(bias, x2d, kernel)
    else:
        xw = torch.mm(x2d, kernel)
    return xw.view(steps, batch, -1)


def build_spec(cell: Any, x: torch.Tensor, states: State, mask: torch.Tensor | None = None,
               reverse: bool = False, recurrent_mask: Any = None,
               training: bool = False) -> tuple[dict, dict]:
    """`(spec, weights)` for `FusedScan.apply(spec, xw, *states, *weights.values())`."""
    family = cell_family(cell)
    steps = x.shape[1]
    masks = None
    if mask is not None and not bool(mask.all()):
        masks = tuple(m.unsqueeze(-1) for m in mask.to(device=x.device, dtype=torch.bool)
                      .unbind(1))
    weights = _weights(cell, family)
    spec = {"family": family, "cell": cell, "n_states": len(states),
            "weight_names": tuple(weights), "masks": masks,
            "order": range(steps - 1, -1, -1) if reverse else range(steps),
            "recurrent_mask": recurrent_mask, "training": training}
    return spec, weights


def scan(cell: Any, x: torch.Tensor, states: State, mask: torch.Tensor | None = None,
         reverse: bool = False, recurrent_mask: Any = None,
         training: bool = False) -> tuple[torch.Tensor, State]:
    """Run `cell` with the fused BPTT engine; same contract as `reference.scan`."""
    ok, reason = supports(cell, x, mask, reverse, recurrent_mask, training)
    if not ok:
        raise ValueError(f"engine='fused' cannot run this configuration: {reason}.")
    states = tuple(states)
    spec, weights = build_spec(cell, x, states, mask, reverse, recurrent_mask, training)
    xw = input_projection(cell, spec["family"], x)
    tensors = (xw, *states, *weights.values())
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        ys, *final = FusedScan.apply(spec, *tensors)
        return ys, tuple(final)
    with torch.no_grad():
        stepper = _STEPPERS[spec["family"]](cell, weights, recurrent_mask, training, save=False)
        return _run_forward(stepper, xw.unbind(0), states, spec["masks"], spec["order"],
                            cell.output_size)


__all__ = ["FusedScan", "build_spec", "scan", "supports", "activation_name"]
