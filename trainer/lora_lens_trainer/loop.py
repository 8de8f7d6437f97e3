"""The training loop, whatever the objective: the data order, gradient accumulation, the optimizer step (with the
fp16 loss scaler and the divergence check), and the cadence of step events, evaluation, checkpoints and the stop
a signal asked for. The objective (objectives/) supplies batches, their loss and the eval metrics."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from . import step_profile
from .data.order import epoch_batches, rank_share
from .lifecycle import checkpoint
from .lifecycle.disk import folder_bytes, reported
from .problems import ConfigProblem

if TYPE_CHECKING:
    from .events import EventWriter
    from .objectives import StepBatch
    from .plan import TrainingPlan
    from .session import Session, Tally
    from .stop import StopFlag

log = logging.getLogger("lora_lens_trainer")
# Skipped fp16 steps (inf/nan gradients at the current loss scale) are each a warning event up to this many;
# later ones go to trainer.log only (a few at the start are normal while the scale settles).
SKIP_WARNINGS = 5


@dataclass
class Finished:
    status: str  # "completed" or "stopped"
    adapter_path: Path | None
    elapsed_s: float
    quantization_backend: str | None


class TrainingLoop:
    def __init__(
        self,
        plan: TrainingPlan,
        s: Session,
        events: EventWriter,
        stop: StopFlag,
        run_dir: Path,
        tally: Tally,
        started: float,
        check_folder: Callable[[], None],
    ) -> None:
        self.plan, self.s, self.events, self.stop, self.run_dir = plan, s, events, stop, run_dir
        self.tally, self.started = tally, started
        # Raises RunFolderGone: before any write, so a deleted run folder is never recreated by one.
        self.check_folder = check_folder
        self.step_tokens = 0  # the last step's real tokens over every rank
        # LORA_LENS_PROFILE_STEPS: a few steps under torch.profiler, their time by category in profile.json.
        self.profile = step_profile.for_run(run_dir, s.model, s.device, s.parallel.rank)

    def run(self) -> Finished:
        s, t, tally = self.s, self.plan.training, self.tally
        accum = t.gradient_accumulation_steps
        p = s.progress
        elapsed_before = p.elapsed_s
        loop_start = time.time()
        window = [time.time(), 0]  # start time and tokens of the throughput window
        steps_here = 0
        batches = self._batches(p.epoch)
        s.model.train()
        while tally.step < s.total:
            if p.batch_index >= len(batches):
                p.epoch, p.batch_index = p.epoch + 1, 0
                batches = self._batches(p.epoch)
            # Several ranks: one step takes accumulation batches per rank from the one global order.
            group = batches[p.batch_index : p.batch_index + accum * s.parallel.world_size]
            micro = [
                (s.objective.collate(b).to(s.device), weight)
                for b, weight in rank_share(group, s.parallel.rank, s.parallel.world_size)
            ]
            lr = float(s.scheduler.get_last_lr()[0])
            with self.profile.step(steps_here + 1):  # counted from this process's first step (resume too)
                loss, grad_norm = self._optimizer_step(micro)
            # Every rank stops at the same step, whichever of them the signal reached.
            stop_now = s.parallel.any(self.stop.requested is not None)
            tally.step += 1
            self.check_folder()
            steps_here += 1
            p.batch_index += len(group)
            step_tokens = self.step_tokens
            p.tokens_seen += step_tokens
            window[1] += step_tokens
            p.elapsed_s = elapsed_before + time.time() - loop_start
            if grad_norm is not None and (tally.step % t.logging_steps == 0 or tally.step == s.total or stop_now):
                self._emit_step(
                    loss,
                    grad_norm,
                    lr,
                    p.epoch + p.batch_index / max(1, len(batches)),
                    window,
                    (time.time() - loop_start) / steps_here,
                )
            if t.eval_steps and s.objective.has_eval and (tally.step % t.eval_steps == 0 or tally.step == s.total):
                self._evaluate()
            if tally.step >= s.total:
                if stop_now:
                    log.info("stop requested at the last step: exporting as a completed run")
                break
            saved = tally.step % t.save_steps == 0 and self._save()
            if stop_now:
                if not saved:
                    self._save()
                return Finished("stopped", None, p.elapsed_s, s.setup.quantization_backend)
        self.check_folder()
        with self.stop.saving_section():
            out_path = self._export()
        return Finished("completed", out_path, elapsed_before + time.time() - loop_start, s.setup.quantization_backend)

    def _batches(self, epoch: int) -> list[list[int]]:
        t, data = self.plan.training, self.s.data
        return epoch_batches(
            data.num_items,
            data.item_lengths,
            t.per_device_train_batch_size,
            t.seed,
            epoch,
            self.plan.data.group_by_length,
        )

    def _optimizer_step(self, micro: list[tuple[StepBatch, float]]) -> tuple[float, torch.Tensor | None]:
        """Forward/backward over this rank's share of the accumulation group (each micro-batch with its loss
        weight, 0 for a rank's padding), then the update, checked BEFORE it is applied. Returns (loss, grad_norm);
        grad_norm is None when an fp16 step was skipped for inf/nan gradients. Sets self.step_tokens."""
        s, t = self.s, self.plan.training
        real = [m for m, weight in micro if weight]
        denominator, tokens = s.parallel.total(
            [s.objective.denominator(real) if real else 0.0, float(sum(m.n_tokens for m in real))]
        )
        self.step_tokens = int(tokens)
        scale = s.scaler.scale if s.scaler is not None else 1.0
        # DDP and FSDP average the ranks' gradients; each rank's loss times the world size makes that average the
        # sum one process accumulating the whole group would have.
        world = s.parallel.world_size
        loss_sum = torch.zeros((), device=s.device)
        for i, (m, weight) in enumerate(micro):
            with s.parallel.accumulating(last=i == len(micro) - 1):
                loss = s.parallel.forward(
                    lambda m=m, weight=weight: s.objective.loss(  # type: ignore[misc]
                        s.parts, m, denominator, loss_scale=scale * world * weight
                    )
                )
                loss.backward()
            loss_sum += loss.detach()
        loss_sum = s.parallel.loss_total(loss_sum)
        scale = float(scale)
        max_norm = t.max_grad_norm if t.max_grad_norm > 0 else float("inf")
        if s.scaler is not None:
            found_inf = s.scaler.unscale_and_check(s.params)
            if found_inf:
                s.scaler.update(True)
                s.optimizer.zero_grad(set_to_none=True)
                if s.scaler.scale < 1.0:
                    # Below 1 the loss is no longer scaled up: the gradients are inf/nan at their own size, which
                    # is divergence, not fp16's range; skipping on would skip every remaining step.
                    self._non_finite(float(loss_sum.item()) / scale, float("nan"))
                self._skipped(scale, s.scaler.scale)
                return float("nan"), None
            grad_norm = s.parallel.clip(s.params, max_norm)
            s.optimizer.step()
            s.scaler.update(False)
        else:
            grad_norm = s.parallel.clip(s.params, max_norm)
            # One sync per step: a non-finite loss or gradient makes this sum non-finite.
            if not math.isfinite(float((loss_sum + grad_norm).item())):
                self._non_finite(float(loss_sum.item()), float(grad_norm.item()))
            s.optimizer.step()
        s.scheduler.step()
        s.optimizer.zero_grad(set_to_none=True)
        return float(loss_sum.item()) / scale, grad_norm

    def _skipped(self, scale: float, new_scale: float) -> None:
        self.tally.skipped_steps += 1
        skipped = self.tally.skipped_steps
        message = (
            f"step {self.tally.step + 1} skipped: inf/nan gradients at loss scale {scale:g}; the scale backs "
            f"off to {new_scale:g} (a few such steps at the start are normal)"
        )
        log.warning("%s", message)
        if skipped <= SKIP_WARNINGS:
            suffix = "" if skipped < SKIP_WARNINGS else "; further skips are logged in trainer.log only"
            self.events.emit("warning", kind="fp16_skip", message=message + suffix)

    def _non_finite(self, loss: float, grad_norm: float) -> None:
        what = f"loss {loss}" if not math.isfinite(loss) else f"gradient norm {grad_norm}"
        if self.tally.skipped_steps:
            what += f" (after {self.tally.skipped_steps} skipped fp16 steps, at loss scale below 1)"
        advice = [
            f"lower training.learning_rate (now {self.plan.training.learning_rate:g}), e.g. by 3-10x",
            "keep training.max_grad_norm at 1.0 (0 turns clipping off)",
            "check the dataset for empty or extremely long rows near this step",
        ]
        if self.plan.precision == "fp16-mixed":
            advice.append("on a GPU with bf16 (Ampere or newer) use precision: bf16-mixed, which has fp32's range")
        advice.append(
            "the step was not applied: the last checkpoint is from before it; after changing the "
            "learning rate, continue from it with --resume-anyway (a changed plan is otherwise refused)"
        )
        raise ConfigProblem(
            f"{what} at step {self.tally.step + 1}: training diverged; the step was not applied", advice
        )

    def _emit_step(
        self, loss: float, grad_norm: torch.Tensor, lr: float, epoch: float, window: list[float], per_step: float
    ) -> None:
        from . import memory

        s, step = self.s, self.tally.step
        self.tally.last_loss = loss
        now = time.time()
        norm = float(grad_norm.item())
        self.events.emit(
            "step",
            step=step,
            total_steps=s.total,
            epoch=round(epoch, 4),
            loss=loss,
            learning_rate=lr,
            grad_norm=norm if math.isfinite(norm) else None,
            tokens_per_second=round(window[1] / max(now - window[0], 1e-9), 1),
            tokens_seen=s.progress.tokens_seen,
            **s.parallel.memory(memory.figures(s.device)),
            elapsed_s=round(s.progress.elapsed_s, 3),
            eta_s=round(per_step * (s.total - step), 3),
            **s.objective.step_metrics(),
        )
        window[0], window[1] = now, 0

    def _evaluate(self) -> None:
        metrics = self.s.parallel.evaluate(lambda: self.s.objective.evaluate(self.s.parts))
        self.events.emit("eval", step=self.tally.step, **metrics, elapsed_s=round(time.time() - self.started, 3))

    def _save(self) -> bool:
        s, step = self.s, self.tally.step
        self.check_folder()
        folder = self.run_dir / "checkpoints"
        # The wrapper waits while a "saving" is pending (until its checkpoint or end event) instead of escalating;
        # from the moment it is announced, a further signal no longer interrupts the write.
        with self.stop.saving_section():
            self.events.emit("saving", step=step)
            state = {**s.progress.state(), **s.parallel.stamp()}

            def write(extra: Callable[[Path], None] | None) -> Path:
                return checkpoint.save(
                    folder,
                    step,
                    s.model,
                    s.optimizer,
                    s.scheduler,
                    state,
                    self.plan.training.save_total_limit,
                    s.fingerprint,
                    s.scaler.state_dict() if s.scaler is not None else None,
                    extra=extra,
                )

            with reported(f"checkpoint step-{step:07d}", folder, lambda: _checkpoint_bytes(folder, s)):
                # One process writes it whole, or rank 0 for DDP, or every rank its shards (FSDP).
                path = s.parallel.save(write, s, folder, step, state)
        self.events.emit("checkpoint", step=step, path=str(path))
        return True

    def _export(self) -> Path:
        # Rank 0 writes; under FSDP every rank first gathers the parameters whole.
        return self.s.parallel.export(self._write_export, self.s)

    def _write_export(self, state_dict: dict[str, torch.Tensor] | None = None) -> Path:
        """`state_dict`: the full model's tensors when the model's own are shards (FSDP, method full)."""
        from .atomic import staged_dir
        from .lora import save_adapter

        plan, s = self.plan, self.s

        def needed() -> int:
            return sum(p.numel() * p.element_size() for p in s.params)

        if plan.method == "full":
            final = self.run_dir / "model"
            with reported("the trained model", final, needed), staged_dir(final) as tmp:
                s.model.save_pretrained(tmp, safe_serialization=plan.output.safe_serialization, state_dict=state_dict)
                s.tokenizer.save_pretrained(tmp)
            return final
        lp = plan.lora
        assert lp is not None
        final = self.run_dir / "adapter"
        with reported("the adapter", final, needed), staged_dir(final) as tmp:
            save_adapter(
                s.model,
                tmp,
                plan.model.name_or_path,
                lp.r,
                lp.lora_alpha,
                lp.lora_dropout,
                lp.use_rslora,
                s.setup.lora_targets,
            )
            s.tokenizer.save_pretrained(tmp)
        return final


def _checkpoint_bytes(folder: Path, s: Session) -> int:
    """What the failed checkpoint needed: the previous one's size, else its tensors' (the optimizer state
    dominates; RNG and scheduler state are a few KB)."""
    previous = checkpoint.latest(folder)
    if previous is not None:
        return folder_bytes(previous)
    tensors = [v for state in s.optimizer.state.values() for v in state.values() if isinstance(v, torch.Tensor)]
    return sum(t.numel() * t.element_size() for t in [*s.params, *tensors])
