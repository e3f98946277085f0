"""Callbacks driven by scripted epoch logs on a tiny fake model; progress bar output."""

import csv
import math
import os

import numpy as np
import pytest
import torch

from gated import callbacks, optimizers
from gated.utils.progress import ProgressBar, format_logs


class FakeModel:
    """Implements exactly the interface callbacks may use."""

    def __init__(self, learning_rate=0.1):
        self.linear = torch.nn.Linear(2, 1)
        self.stop_training = False
        self.optimizer = optimizers.SGD(learning_rate=learning_rate)
        self.optimizer.build(list(self.linear.parameters()))
        self.saved = []

    def get_weights(self):
        return [p.detach().numpy().copy() for p in self.linear.parameters()]

    def set_weights(self, weights):
        with torch.no_grad():
            for p, w in zip(self.linear.parameters(), weights, strict=True):
                p.copy_(torch.as_tensor(w))

    def save(self, path):
        self.saved.append(("save", path))

    def save_weights(self, path):
        self.saved.append(("save_weights", path))


def fit(model, cbs, epoch_logs, steps=2, verbose=0, batch_logs=None):
    """A minimal `fit` loop: weights are set to the epoch number so restores are visible."""
    cb_list = callbacks.CallbackList(cbs, add_history=True, model=model, verbose=verbose,
                                     epochs=len(epoch_logs), steps=steps)
    cb_list.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        cb_list.on_epoch_begin(epoch)
        model.set_weights([np.full((1, 2), float(epoch)), np.full((1,), float(epoch))])
        for batch in range(steps):
            cb_list.on_train_batch_begin(batch)
            cb_list.on_train_batch_end(batch, dict(batch_logs or {"loss": logs.get("loss", 0.0)}))
        logs = dict(logs)
        cb_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cb_list.on_train_end()
    return cb_list.history


def val_losses(*values):
    return [{"loss": 1.0, "val_loss": v} for v in values]


# ------------------------------------------------------------------------------ EarlyStopping
def test_early_stopping_stops_at_the_right_epoch_and_restores_best_weights():
    model = FakeModel()
    stop = callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    history = fit(model, [stop], val_losses(1.0, 0.8, 0.9, 0.95, 0.7, 0.6))
    assert history.epoch == [0, 1, 2, 3]  # epoch 3 is the 2nd without improvement on 0.8
    assert stop.stopped_epoch == 3 and stop.best == 0.8 and stop.best_epoch == 1
    assert model.get_weights()[1].tolist() == [1.0]  # weights of epoch 1 restored
    assert history.history["val_loss"] == [1.0, 0.8, 0.9, 0.95]


def test_early_stopping_patience_zero_min_delta_and_max_mode():
    model = FakeModel()
    stop = callbacks.EarlyStopping(patience=0)
    assert fit(model, [stop], val_losses(1.0, 0.9, 0.95, 0.5)).epoch == [0, 1, 2]

    stop = callbacks.EarlyStopping(min_delta=0.2, patience=1)
    assert fit(FakeModel(), [stop], val_losses(1.0, 0.9, 0.85, 0.1)).epoch == [0, 1]

    acc = [{"loss": 1.0, "val_accuracy": a} for a in (0.5, 0.6, 0.55, 0.58, 0.9)]
    stop = callbacks.EarlyStopping(monitor="val_accuracy", patience=2)  # auto -> max
    assert fit(FakeModel(), [stop], acc).epoch == [0, 1, 2, 3] and stop.best == 0.6


def test_early_stopping_baseline_and_start_from_epoch():
    # Keras 3 rule: improving on the best but not on the baseline does not reset `wait`.
    stop = callbacks.EarlyStopping(patience=2)
    assert fit(FakeModel(), [stop], val_losses(0.9, 0.8, 0.85, 0.85)).epoch == [0, 1, 2, 3]
    stop = callbacks.EarlyStopping(patience=2, baseline=0.5)
    assert fit(FakeModel(), [stop], val_losses(0.9, 0.8, 0.85, 0.85)).epoch == [0, 1, 2]
    stop = callbacks.EarlyStopping(patience=1, start_from_epoch=2)
    assert fit(FakeModel(), [stop], val_losses(0.5, 0.9, 0.9, 0.95, 1.0)).epoch == [0, 1, 2, 3]


def test_missing_monitor_warns_with_available_keys():
    stop = callbacks.EarlyStopping(monitor="val_mae")
    with pytest.warns(UserWarning, match=r"`val_mae`.*Available metrics are: loss,val_loss"):
        fit(FakeModel(), [stop], val_losses(1.0))
    with pytest.warns(UserWarning, match="unknown"):
        callbacks.EarlyStopping(mode="maximum")


# --------------------------------------------------------------------------- ReduceLROnPlateau
def test_reduce_lr_on_plateau_reduces_at_the_right_epochs():
    model = FakeModel(learning_rate=0.1)
    seen = []
    record = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(model.optimizer.learning_rate))
    reduce = callbacks.ReduceLROnPlateau(factor=0.5, patience=2)
    history = fit(model, [reduce, record], val_losses(1.0, 1.0, 1.0, 0.5, 0.5, 0.5))
    assert seen == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.025])
    # the logged rate is the one in use during the epoch
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05])
    assert model.optimizer.torch_optimizer.param_groups[0]["lr"] == pytest.approx(0.025)


def test_reduce_lr_on_plateau_cooldown_and_min_lr():
    model = FakeModel(learning_rate=0.1)
    reduce = callbacks.ReduceLROnPlateau(factor=0.1, patience=1, cooldown=2, min_lr=0.005)
    seen = []
    record = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(model.optimizer.learning_rate))
    fit(model, [reduce, record], val_losses(*([1.0] * 7)))
    # reduce at epoch 1; cooldown counts down at epochs 2, 3; reduce again at 3 (to min_lr),
    # then no further reduction below min_lr
    assert seen == pytest.approx([0.1, 0.01, 0.01, 0.005, 0.005, 0.005, 0.005])
    with pytest.raises(ValueError, match="factor"):
        callbacks.ReduceLROnPlateau(factor=1.5)


def test_learning_rate_scheduler():
    model = FakeModel(learning_rate=0.1)
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5)
    history = fit(model, [sched], val_losses(1, 1, 1, 1))
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    one_arg = callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    fit(model, [one_arg], val_losses(1, 1))
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    bad = callbacks.LearningRateScheduler(lambda epoch, lr: "fast")
    with pytest.raises(ValueError, match="should be a float"):
        fit(model, [bad], val_losses(1))


# --------------------------------------------------------------------- logging callbacks
def test_csv_logger_writes_header_and_rows(tmp_path):
    path = tmp_path / "log.csv"
    fit(FakeModel(), [callbacks.CSVLogger(path)], [{"loss": 0.5, "val_loss": 0.25},
                                                   {"loss": 0.4, "val_loss": 0.2}])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["epoch", "loss", "val_loss"], ["0", "0.5", "0.25"], ["1", "0.4", "0.2"]]
    fit(FakeModel(), [callbacks.CSVLogger(path, separator=";", append=True)],
        [{"loss": 0.3, "val_loss": 0.1}])
    assert open(path).read().splitlines()[-1] == "0;0.3;0.1"
    assert open(path).read().count("epoch") == 1


def test_csv_logger_reserves_val_columns(tmp_path):
    path = tmp_path / "log.csv"
    fit(FakeModel(), [callbacks.CSVLogger(path)], [{"loss": 0.5}, {"loss": 0.4, "val_loss": 1}])
    assert open(path).read().splitlines() == ["epoch,loss,val_loss", "0,0.5,NA", "1,0.4,1"]


def test_terminate_on_nan():
    model = FakeModel()
    history = fit(model, [callbacks.TerminateOnNaN()], val_losses(1, 1, 1),
                  batch_logs={"loss": float("nan")})
    assert model.stop_training and history.epoch == [0]
    model = FakeModel()
    fit(model, [callbacks.TerminateOnNaN()], val_losses(1, 1), batch_logs={"loss": 0.3})
    assert not model.stop_training
    model = FakeModel()
    fit(model, [callbacks.TerminateOnNaN()], val_losses(1, 1), batch_logs={"loss": math.inf})
    assert model.stop_training


def test_history_lambda_callback_and_callback_list():
    model = FakeModel()
    events = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append("begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"epoch{epoch}"),
        on_train_batch_end=lambda batch, logs: events.append(f"batch{batch}"),
        on_train_end=lambda logs: events.append("end"))
    history = fit(model, [cb], val_losses(0.5, 0.4), steps=1)
    assert events == ["begin", "epoch0", "batch0", "epoch1", "batch0", "end"]
    assert model.history is history and history.history["val_loss"] == [0.5, 0.4]
    assert history.params == {"verbose": 0, "epochs": 2, "steps": 1} and history.model is model
    with pytest.raises(TypeError, match="unknown hook"):
        callbacks.LambdaCallback(on_epoch_finish=print)
    cb_list = callbacks.CallbackList([], add_history=True, add_progbar=True)
    kinds = [type(c) for c in cb_list]
    assert kinds == [callbacks.History, callbacks.ProgbarLogger]
    with pytest.raises(TypeError, match="Callback"):
        callbacks.CallbackList([print])


# ----------------------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_formats_paths_and_saves_best_only(tmp_path):
    model = FakeModel()
    pattern = os.path.join(tmp_path, "ckpt", "model-{epoch:02d}-{val_loss:.2f}")
    fit(model, [callbacks.ModelCheckpoint(pattern, save_best_only=True)],
        val_losses(0.9, 0.95, 0.5))
    assert model.saved == [("save", os.path.join(tmp_path, "ckpt", "model-01-0.90")),
                           ("save", os.path.join(tmp_path, "ckpt", "model-03-0.50"))]
    assert os.path.isdir(tmp_path / "ckpt")

    model = FakeModel()
    fit(model, [callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch}"), save_weights_only=True)],
        val_losses(1, 1))
    assert model.saved == [("save_weights", str(tmp_path / "w-1")),
                           ("save_weights", str(tmp_path / "w-2"))]

    model = FakeModel()
    fit(model, [callbacks.ModelCheckpoint(str(tmp_path / "b-{epoch}-{batch}"), save_freq=3)],
        val_losses(1, 1, 1), steps=2)
    assert [p for _, p in model.saved] == [str(tmp_path / "b-2-1"), str(tmp_path / "b-3-2")]

    with pytest.raises(KeyError, match="val_mae"):
        fit(FakeModel(), [callbacks.ModelCheckpoint(str(tmp_path / "{val_mae}"))], val_losses(1))


# ------------------------------------------------------------------------------- progress
def test_progbar_logger_verbose_2_prints_one_line_per_epoch(capsys):
    fit(FakeModel(), [callbacks.ProgbarLogger()],
        [{"loss": 0.5, "val_loss": 0.25}, {"loss": 0.4, "val_loss": 0.2}],
        verbose=2, batch_logs={"loss": 0.5})
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2 - ") and "/step - loss: 0.5000 - val_loss: 0.2500" in \
        lines[0]
    assert lines[1].startswith("Epoch 2/2 - ") and lines[1].endswith("val_loss: 0.2000")


def test_progbar_logger_verbose_1_draws_a_bar(capsys):
    fit(FakeModel(), [callbacks.ProgbarLogger()], [{"loss": 0.5, "val_loss": 0.25}] * 2,
        verbose=1, steps=4, batch_logs={"loss": 0.75})
    out = capsys.readouterr().out
    assert "Epoch 1/2 4/4" in out and "Epoch 2/2 4/4" in out
    assert out.rstrip().endswith("/step - loss: 0.5000 - val_loss: 0.2500")


def test_progress_bar_averages_non_stateful_values():
    bar = ProgressBar(target=4, verbose=0, stateful_metrics=["acc"])
    bar.update(1, {"loss": 1.0, "acc": 0.1})
    bar.update(3, {"loss": 3.0, "acc": 0.3})  # covers 2 steps: weight 2
    assert bar.current_values() == pytest.approx({"loss": (1 + 3 * 2) / 3, "acc": 0.3})
    bar.close({"val_loss": 0.5})
    assert bar.current_values()["val_loss"] == 0.5
    assert format_logs({"loss": 0.12345, "tiny": 2e-5}) == " - loss: 0.1235 - tiny: 2.0000e-05"
    with pytest.raises(ValueError, match="verbose"):
        ProgressBar(10, verbose=3)


def test_progress_bar_verbose_0_is_silent(capsys):
    bar = ProgressBar(target=2, verbose=0, description="Epoch 1/1")
    bar.update(1, {"loss": 1.0})
    bar.close()
    assert capsys.readouterr().out == ""
