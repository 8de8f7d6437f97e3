"""`run`: the training loop, with events, checkpoints, resume, graceful stop and out-of-memory reporting."""
from __future__ import annotations

import gc
import logging
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import exit_codes
from .data.clean import clean_rows
from .data.order import epoch_batches, pack, shuffled, total_steps
from .data.readers import DataError, read_rows
from .data.tokenize import Example, tokenize_rows
from .events import EventWriter
from .lifecycle.disk import DiskFull, folder_bytes, reported
from .lifecycle.run_folder import RunFolder, RunFolderGone, RunFolderLocked
from .plan import PlanError, TrainingPlan, read_plan
from .stop import StopFlag
from .streams import QuietStreamHandler, say

EXIT_OK, EXIT_FAILED, EXIT_OOM = exit_codes.OK, exit_codes.FAILED, exit_codes.OOM
log = logging.getLogger("lora_lens_trainer")
# Skipped fp16 steps (inf/nan gradients at the current loss scale) are each a warning event up to this many;
# later ones go to trainer.log only (a few at the start are normal while the scale settles).
SKIP_WARNINGS = 5


class ConfigProblem(PlanError):
    """A refusal the user fixes in the config or on the command line; carries its advice."""

    def __init__(self, message: str, advice: list[str]) -> None:
        super().__init__(message)
        self.advice = advice


def setup_logging(run_dir: Path) -> None:
    log.setLevel(logging.INFO)
    log.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    for handler in (logging.FileHandler(run_dir / "trainer.log", encoding="utf-8"), QuietStreamHandler(sys.stderr)):
        handler.setFormatter(fmt)
        log.addHandler(handler)


def close_logging() -> None:
    for handler in list(log.handlers):
        handler.close()
        log.removeHandler(handler)


@dataclass
class Datasets:
    train_items: list[list[Example]]  # one entry per training item: a single example, or a packed row
    item_lengths: list[int]
    eval_examples: list[Example]
    num_train_rows: int
    num_eval_rows: int | None
    warnings: list[str] = field(default_factory=list)


def load_data(plan: TrainingPlan, tokenizer: Any) -> Datasets:
    d = plan.data
    warnings: list[str] = []

    def examples_of(path: str, what: str) -> tuple[list[Example], int]:
        rows, dropped_dupes = clean_rows(read_rows(path), dedupe=d.dedupe, html_strip=d.strip_html)
        if dropped_dupes:
            warnings.append(f"{what}: {dropped_dupes} duplicate rows dropped (data.dedupe)")
        try:
            examples, empty = tokenize_rows(rows, tokenizer, d.format, d.chat_template, d.max_length, d.train_on_prompt)
        except DataError as error:
            raise DataError(f"{path}: {error}") from error
        if empty:
            warnings.append(f"{what}: {empty} rows have no trained token within max_length {d.max_length} and were skipped")
        truncated = sum(1 for e in examples if len(e.input_ids) >= d.max_length)
        if truncated:
            warnings.append(f"{what}: {truncated} rows were truncated to max_length {d.max_length}")
        return examples, len(rows)

    train, n_train = examples_of(d.train, "train")
    if not train:
        raise DataError(f"{d.train}: no usable training rows")
    evals, n_eval = examples_of(d.eval, "eval") if d.eval else ([], None)
    if d.packing:
        lengths = [len(e.input_ids) for e in train]
        rows = pack(shuffled(len(train), plan.training.seed, -1), lengths, d.max_length)
        items = [[train[i] for i in r.members] for r in rows]
    else:
        items = [[e] for e in train]
    return Datasets(items, [sum(len(e.input_ids) for e in it) for it in items], evals, n_train, n_eval, warnings)


def run(plan_path: Path, run_dir: Path, resume: bool, estimate_peak_bytes: float | None = None,
        resume_anyway: bool = False, estimate_tokens_per_second: float | None = None) -> int:
    from .modeling import set_offline

    set_offline()
    try:
        folder = RunFolder.claim(run_dir)
    except RunFolderLocked as error:
        # Not a word into the folder: its events and files belong to the trainer that holds it.
        say(f"lora_lens_trainer: {error}")
        return exit_codes.LOCKED
    setup_logging(run_dir)
    events = EventWriter(run_dir / "events.jsonl", echo=sys.stdout)
    folder.watch(events.path, events.fileno())
    stop = StopFlag()
    stop.install()
    try:
        try:
            plan = read_plan(plan_path)
        except PlanError as error:
            events.emit("error", kind="config", message=str(error), advice=[])
            events.emit("end", status="failed", step=0, final_loss=None, adapter_path=None)
            return EXIT_FAILED
        trainer = Trainer(plan, run_dir, events, stop, estimate_peak_bytes, resume_anyway, folder)
        trainer.estimate_tokens_per_second = estimate_tokens_per_second
        return trainer.run(resume or resume_anyway)
    finally:
        stop.uninstall()
        events.close()
        close_logging()
        folder.release()


@dataclass
class Finished:
    status: str  # "completed" or "stopped"
    adapter_path: Path | None
    elapsed_s: float
    quantization_backend: str | None


@dataclass
class Session:
    """Everything one training process holds; dropped as a whole before the merge so its memory is freed."""
    model: Any
    body: Any
    head: Any
    params: list[Any]
    optimizer: Any
    scheduler: Any
    scaler: Any  # LossScaler for fp16 compute, else None
    setup: Any
    tokenizer: Any
    data: Datasets
    total: int
    collate: Callable[[list[int]], Any]
    progress: dict[str, Any]


class Trainer:
    def __init__(self, plan: TrainingPlan, run_dir: Path, events: EventWriter, stop: StopFlag,
                 estimate_peak_bytes: float | None, resume_anyway: bool = False,
                 folder: RunFolder | None = None) -> None:
        self.plan, self.run_dir, self.events, self.stop = plan, run_dir, events, stop
        self.folder = folder
        self.estimate = estimate_peak_bytes
        # The throughput model's figure (server/src/throughput), echoed in the start event for the panel's prediction.
        self.estimate_tokens_per_second: float | None = None
        self.resume_anyway = resume_anyway
        self.step = 0
        self.started = time.time()
        self.last_loss: float | None = None
        self.device: Any = None
        self.fingerprint: dict[str, Any] = {}
        self.skipped_steps = 0

    def run(self, resume: bool) -> int:
        import torch

        from .modeling import ModelError

        try:
            finished = self._train(resume)
        except torch.OutOfMemoryError as error:
            return self._oom(error)
        except RunFolderGone as error:
            return self._folder_gone(error)
        except DiskFull as error:
            log.error("%s", error)
            # The schema's error kinds have no `disk` yet: a full disk is the machine's, so `environment`.
            self.events.emit("error", kind="environment", message=str(error), step=self.step, advice=error.advice)
            return self._end("failed", None, EXIT_FAILED)
        except (DataError, ModelError, PlanError) as error:
            kind = "data" if isinstance(error, DataError) else "model" if isinstance(error, ModelError) else "config"
            log.error("%s", error)
            self.events.emit("error", kind=kind, message=str(error), step=self.step,
                             advice=getattr(error, "advice", []))
            return self._end("failed", None, EXIT_FAILED)
        except KeyboardInterrupt:
            log.error("stopped by a second signal before the checkpoint was written; the previous checkpoint is intact")
            return self._end("stopped", None, EXIT_OK)
        except Exception as error:  # the stream must end with an event the editor can show
            log.exception("internal error")
            self.events.emit("error", kind="internal", message=f"{type(error).__name__}: {error}", step=self.step, advice=[])
            return self._end("failed", None, EXIT_FAILED)
        if finished.status == "completed" and self.plan.output.merge and self.plan.method != "full":
            self._merge_after_training(finished)
        try:
            self._check_folder()
        except RunFolderGone as error:
            return self._folder_gone(error)
        return self._end(finished.status, finished.adapter_path, EXIT_OK, finished.elapsed_s)

    def _check_folder(self) -> None:
        if self.folder is not None:
            self.folder.check()

    def _folder_gone(self, error: RunFolderGone) -> int:
        """Whoever deleted the folder wants it gone: nothing is recreated in it. The stdout echo, if anyone
        still reads it, gets the failure; stderr gets the reason."""
        self.events.detach()
        log.error("%s", error)
        say(f"lora_lens_trainer: {error}")
        self.events.emit("error", kind="environment", message=str(error), step=self.step, advice=[])
        return self._end("failed", None, EXIT_FAILED)

    def _end(self, status: str, adapter: Path | None, code: int, elapsed: float | None = None) -> int:
        self.events.emit("end", status=status, step=self.step, final_loss=self.last_loss,
                         elapsed_s=round(elapsed if elapsed is not None else time.time() - self.started, 3),
                         adapter_path=None if adapter is None else str(adapter))
        return code

    def _oom(self, error: BaseException) -> int:
        from . import memory

        figures = memory.figures(self.device)
        total = memory.total_bytes(self.device)
        message = f"CUDA out of memory at step {self.step + 1}: {str(error).splitlines()[0]}"
        log.error("%s", message)
        self.events.emit("error", kind="oom", message=message, step=self.step,
                         advice=memory.oom_advice(self.plan, self.estimate, total),
                         memory={"allocated_bytes": figures["allocated_bytes"], "reserved_bytes": figures["reserved_bytes"],
                                 "peak_allocated_bytes": figures["peak_allocated_bytes"], "total_bytes": total,
                                 "estimate_peak_bytes": self.estimate})
        return self._end("failed", None, EXIT_OOM)

    def _device(self) -> Any:
        import torch

        if not torch.cuda.is_available():
            self.events.emit("warning", kind="no_cuda",
                             message="no CUDA GPU is visible: training on the CPU, which is slow (fine for tiny "
                                     "models and tests; a 7B model would take hours per step)")
            return torch.device("cpu")
        device = torch.device("cuda", 0)
        limit = os.environ.get("LORA_LENS_GPU_MEMORY_LIMIT")
        if limit:
            # Lets a big card behave like a smaller one: the caching allocator refuses beyond this many bytes.
            total = torch.cuda.mem_get_info(device)[1]
            torch.cuda.set_per_process_memory_fraction(min(1.0, float(limit) / total), device)
        return device

    def _train(self, resume: bool) -> Finished:
        session = self._prepare(resume)
        return self._loop(session)

    def _prepare(self, resume: bool) -> Session:
        import torch

        from . import fingerprint
        from .modeling import decoder_and_head, load_model, load_tokenizer
        from .optim import build_optimizer, build_scheduler

        plan, t = self.plan, self.plan.training
        self.device = device = self._device()
        random.seed(t.seed)
        torch.manual_seed(t.seed)
        tokenizer = load_tokenizer(plan)
        data = load_data(plan, tokenizer)
        for text in data.warnings:
            self.events.emit("warning", kind="data", message=text)
        self.fingerprint = fingerprint.of_run(plan)
        n_batches = math.ceil(len(data.train_items) / t.per_device_train_batch_size)
        total = total_steps(n_batches, t.gradient_accumulation_steps, t.num_train_epochs, t.max_steps)

        setup = load_model(plan, device)
        model = setup.model
        body, head = decoder_and_head(model, setup.autocast_dtype)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer, note = build_optimizer(plan, params, device)
        if note:
            self.events.emit("warning", kind="optimizer", message=note)
        scheduler = build_scheduler(plan, optimizer, total)
        scaler = None
        if setup.autocast_dtype == torch.float16:
            from .scaler import LossScaler

            scaler = LossScaler(enabled=True)
        session = Session(model, body, head, params, optimizer, scheduler, scaler, setup, tokenizer, data, total,
                          self._collate_for(data, tokenizer.pad_token_id),
                          {"epoch": 0, "batch_index": 0, "tokens_seen": 0, "elapsed_s": 0.0})
        resumed_from = self._resume(session) if resume else None
        self._emit_start(session, resumed_from)
        return session

    def _collate_for(self, data: Datasets, pad_id: int) -> Callable[[list[int]], Any]:
        from .collate import collate_packed, collate_padded

        d = self.plan.data
        # FlashAttention-2 finds packed examples from position-id resets only in a batch of one row: packed
        # micro-batches become one row there, so attention never crosses examples.
        flatten = self.plan.model.attn_implementation == "flash_attention_2"

        def collate(indices: list[int]) -> Any:
            items = [data.train_items[i] for i in indices]
            if d.packing:
                return collate_packed(items, pad_id, d.max_length, flatten=flatten)
            return collate_padded([it[0] for it in items], pad_id)

        return collate

    def _resume(self, s: Session) -> int:
        from . import checkpoint, fingerprint

        folder = self.run_dir / "checkpoints"
        damaged: list[tuple[Path, str, Path]] = []
        loaded = checkpoint.newest_usable(folder, self.device, lambda p, why, moved: damaged.append((p, why, moved)))
        if loaded is None:
            detail = "; ".join(f"{p.name}: {why}" for p, why, _ in damaged)
            raise PlanError(f"--resume: no usable checkpoint under {folder}" + (f" ({detail})" if detail else ""))
        for path, why, moved in damaged:
            self.events.emit("warning", kind="checkpoint",
                             message=f"checkpoint {path.name} is damaged ({why}): set aside as {moved.name}; "
                                     f"resuming from {loaded.path.name} instead")
        stored = loaded.progress.get("fingerprint")
        if not stored:
            self.events.emit("warning", kind="checkpoint", message=f"{loaded.path.name} has no fingerprint (written "
                             "by an older trainer): the plan and dataset are not checked against it")
        else:
            self._check_fingerprint(fingerprint.mismatches(stored, self.fingerprint), loaded.path.name)
        checkpoint.apply(loaded, s.model, s.optimizer, s.scheduler)
        if s.scaler is not None and loaded.scaler is not None:
            s.scaler.load_state_dict(loaded.scaler)
        s.progress = loaded.progress
        self.step = loaded.step
        log.info("resumed from %s", loaded.path)
        return loaded.step

    def _check_fingerprint(self, found: tuple[list[str], list[str]], name: str) -> None:
        refusals, notes = found
        for note in notes:
            self.events.emit("warning", kind="checkpoint", message=note)
        if not refusals:
            return
        listed = "; ".join(refusals[:6]) + (f"; and {len(refusals) - 6} more" if len(refusals) > 6 else "")
        if self.resume_anyway:
            self.events.emit("warning", kind="checkpoint",
                             message=f"--resume-anyway: resuming from {name} although {listed}")
            return
        raise ConfigProblem(
            f"--resume refused: {name} was trained on another plan, dataset or base model: {listed}",
            ["restore the plan, dataset and base model the run started with, then resume again",
             "or start a new run with the changed config (nothing is lost: this run folder stays as it is)",
             "or resume regardless with `--resume-anyway` (the data position and schedule continue from the checkpoint)"])

    def _emit_start(self, s: Session, resumed_from: int | None) -> None:
        import torch

        from . import memory
        from .modeling import count_params

        plan = self.plan
        trainable, total_params = count_params(s.model)
        gpu = None
        if self.device.type == "cuda":
            gpu = {"name": torch.cuda.get_device_name(self.device), "memory_bytes": memory.total_bytes(self.device)}
        self.events.emit("start", run_id=self.run_dir.name, total_steps=s.total, num_train_rows=s.data.num_train_rows,
                         num_eval_rows=s.data.num_eval_rows, method=plan.method, model=plan.model.name_or_path,
                         trainable_params=trainable, total_params=total_params, estimate_peak_bytes=self.estimate,
                         estimate_tokens_per_second=self.estimate_tokens_per_second,
                         gpu=gpu, quantization_backend=s.setup.quantization_backend, resumed_from_step=resumed_from)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def _loop(self, s: Session) -> Finished:
        t = self.plan.training
        bs, accum = t.per_device_train_batch_size, t.gradient_accumulation_steps
        epoch, batch_index = int(s.progress["epoch"]), int(s.progress["batch_index"])
        tokens_seen = int(s.progress["tokens_seen"])
        elapsed_before = float(s.progress["elapsed_s"])
        loop_start = time.time()
        window = [time.time(), 0]  # start time and tokens of the throughput window
        steps_here = 0
        lengths = s.data.item_lengths
        batches = epoch_batches(len(s.data.train_items), lengths, bs, t.seed, epoch, self.plan.data.group_by_length)
        s.model.train()
        while self.step < s.total:
            if batch_index >= len(batches):
                epoch, batch_index = epoch + 1, 0
                batches = epoch_batches(len(s.data.train_items), lengths, bs, t.seed, epoch, self.plan.data.group_by_length)
            group = batches[batch_index:batch_index + accum]
            micro = [s.collate(b).to(self.device) for b in group]
            lr = s.scheduler.get_last_lr()[0]
            loss, grad_norm = self._optimizer_step(s, micro)
            self.step += 1
            self._check_folder()
            steps_here += 1
            batch_index += len(group)
            step_tokens = sum(m.n_tokens for m in micro)
            tokens_seen += step_tokens
            window[1] += step_tokens
            elapsed = elapsed_before + time.time() - loop_start
            if grad_norm is not None and (self.step % t.logging_steps == 0 or self.step == s.total or self.stop.requested):
                self._emit_step(s, loss, grad_norm, lr, epoch + batch_index / max(1, len(batches)), tokens_seen,
                                window, elapsed, (time.time() - loop_start) / steps_here)
            if t.eval_steps and s.data.eval_examples and (self.step % t.eval_steps == 0 or self.step == s.total):
                self._evaluate(s)
            if self.step >= s.total:
                if self.stop.requested:
                    log.info("stop requested at the last step: exporting as a completed run")
                break
            state = {"epoch": epoch, "batch_index": batch_index, "tokens_seen": tokens_seen, "elapsed_s": elapsed}
            saved = self.step % t.save_steps == 0 and self._save(s, state)
            if self.stop.requested:
                if not saved:
                    self._save(s, state)
                return Finished("stopped", None, elapsed, s.setup.quantization_backend)
        self._check_folder()
        with self.stop.saving_section():
            out_path = self._export(s)
        return Finished("completed", out_path, elapsed_before + time.time() - loop_start, s.setup.quantization_backend)

    def _optimizer_step(self, s: Session, micro: list[Any]) -> tuple[float, Any]:
        """Forward/backward over the accumulation group, then the update, checked BEFORE it is applied.
        Returns (loss, grad_norm); grad_norm is None when an fp16 step was skipped for inf/nan gradients."""
        import torch

        from .step import batch_loss

        t = self.plan.training
        denominator = float(max(1, sum(m.n_targets for m in micro)))
        scaled = {"loss_scale": s.scaler.scale} if s.scaler is not None else {}
        loss_sum = torch.zeros((), device=self.device)
        attn = self.plan.model.attn_implementation
        for m in micro:
            loss = batch_loss(s.body, s.head, m, denominator, self.device, s.setup.autocast_dtype, attn, **scaled)
            loss.backward()
            loss_sum += loss.detach()
        scale = float(scaled.get("loss_scale", 1.0))
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
            grad_norm = torch.nn.utils.clip_grad_norm_(s.params, max_norm, foreach=True)
            s.optimizer.step()
            s.scaler.update(False)
        else:
            grad_norm = torch.nn.utils.clip_grad_norm_(s.params, max_norm, foreach=True)
            # One sync per step: a non-finite loss or gradient makes this sum non-finite.
            if not math.isfinite(float((loss_sum + grad_norm).item())):
                self._non_finite(float(loss_sum.item()), float(grad_norm.item()))
            s.optimizer.step()
        s.scheduler.step()
        s.optimizer.zero_grad(set_to_none=True)
        return float(loss_sum.item()) / scale, grad_norm

    def _skipped(self, scale: float, new_scale: float) -> None:
        self.skipped_steps += 1
        message = (f"step {self.step + 1} skipped: inf/nan gradients at loss scale {scale:g}; the scale backs off to "
                   f"{new_scale:g} (a few such steps at the start are normal)")
        log.warning("%s", message)
        if self.skipped_steps <= SKIP_WARNINGS:
            suffix = "" if self.skipped_steps < SKIP_WARNINGS else "; further skips are logged in trainer.log only"
            self.events.emit("warning", kind="fp16_skip", message=message + suffix)

    def _non_finite(self, loss: float, grad_norm: float) -> None:
        what = f"loss {loss}" if not math.isfinite(loss) else f"gradient norm {grad_norm}"
        if self.skipped_steps:
            what += f" (after {self.skipped_steps} skipped fp16 steps, at loss scale below 1)"
        advice = [f"lower training.learning_rate (now {self.plan.training.learning_rate:g}), e.g. by 3-10x",
                  "keep training.max_grad_norm at 1.0 (0 turns clipping off)",
                  "check the dataset for empty or extremely long rows near this step"]
        if self.plan.precision == "fp16-mixed":
            advice.append("on a GPU with bf16 (Ampere or newer) use precision: bf16-mixed, which has fp32's range")
        advice.append("the step was not applied: the last checkpoint is from before it; after changing the "
                      "learning rate, continue from it with --resume-anyway (a changed plan is otherwise refused)")
        raise ConfigProblem(f"{what} at step {self.step + 1}: training diverged; the step was not applied", advice)

    def _emit_step(self, s: Session, loss: float, grad_norm: Any, lr: float, epoch: float, tokens_seen: int,
                   window: list[float], elapsed: float, per_step: float) -> None:
        from . import memory

        self.last_loss = loss
        now = time.time()
        norm = float(grad_norm.item())
        self.events.emit("step", step=self.step, total_steps=s.total, epoch=round(epoch, 4), loss=loss,
                         learning_rate=lr, grad_norm=norm if math.isfinite(norm) else None,
                         tokens_per_second=round(window[1] / max(now - window[0], 1e-9), 1),
                         tokens_seen=tokens_seen, **memory.figures(self.device), elapsed_s=round(elapsed, 3),
                         eta_s=round(per_step * (s.total - self.step), 3))
        window[0], window[1] = now, 0

    def _save(self, s: Session, state: dict[str, Any]) -> bool:
        from . import checkpoint

        # The wrapper waits while a "saving" is pending (until its checkpoint or end event) instead of escalating;
        # from the moment it is announced, a further signal no longer interrupts the write.
        self._check_folder()
        folder = self.run_dir / "checkpoints"
        with self.stop.saving_section():
            self.events.emit("saving", step=self.step)
            with reported(f"checkpoint step-{self.step:07d}", folder,
                          lambda: _checkpoint_bytes(folder, s.params, s.optimizer)):
                path = checkpoint.save(folder, self.step, s.model, s.optimizer, s.scheduler, state,
                                       self.plan.training.save_total_limit, self.fingerprint,
                                       s.scaler.state_dict() if s.scaler is not None else None)
        self.events.emit("checkpoint", step=self.step, path=str(path))
        return True

    def _evaluate(self, s: Session) -> None:
        import torch

        from .collate import collate_padded
        from .step import batch_loss

        bs = self.plan.training.per_device_eval_batch_size
        examples = s.data.eval_examples
        total_loss, total_targets = 0.0, 0
        s.body.eval()
        with torch.no_grad():
            for start in range(0, len(examples), bs):
                batch = collate_padded(examples[start:start + bs], s.tokenizer.pad_token_id).to(self.device)
                loss = batch_loss(s.body, s.head, batch, 1.0, self.device, s.setup.autocast_dtype,
                                  self.plan.model.attn_implementation)
                total_loss += float(loss.item())
                total_targets += batch.n_targets
        s.body.train()
        # Summed over every eval target, then divided once: a mean per token (transformers' Trainer averages the
        # per-batch means instead, which weighs a short last batch as much as a full one).
        self.events.emit("eval", step=self.step, eval_loss=total_loss / max(1, total_targets),
                         eval_loss_reduction="token", eval_tokens=total_targets,
                         elapsed_s=round(time.time() - self.started, 3))

    def _export(self, s: Session) -> Path:
        from .atomic import staged_dir
        from .lora import save_adapter

        plan = self.plan

        def needed() -> int:
            return sum(p.numel() * p.element_size() for p in s.params)

        if plan.method == "full":
            final = self.run_dir / "model"
            with reported("the trained model", final, needed), staged_dir(final) as tmp:
                s.model.save_pretrained(tmp, safe_serialization=plan.output.safe_serialization)
                s.tokenizer.save_pretrained(tmp)
            return final
        lp = plan.lora
        assert lp is not None
        final = self.run_dir / "adapter"
        with reported("the adapter", final, needed), staged_dir(final) as tmp:
            save_adapter(s.model, tmp, plan.model.name_or_path, lp.r, lp.lora_alpha, lp.lora_dropout, lp.use_rslora,
                         s.setup.lora_targets)
            s.tokenizer.save_pretrained(tmp)
        return final

    def _merge_after_training(self, finished: Finished) -> None:
        """The training session is out of scope here; collect it and empty the allocator's cache first, so the
        merge has the memory a standalone `merge` would have. A failure is a warning: the adapter is saved."""
        import torch

        from .merge import merge

        gc.collect()
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.empty_cache()
            log.info("before the merge: %d bytes allocated, %d reserved", torch.cuda.memory_allocated(self.device),
                     torch.cuda.memory_reserved(self.device))
        try:
            report = merge(self.run_dir, self.plan, quantization_backend=finished.quantization_backend)
            log.info("merged: %s", report)
        except (Exception, KeyboardInterrupt) as error:
            log.exception("merge failed")
            self.events.emit("warning", kind="merge",
                             message=f"the merge failed ({type(error).__name__}: {str(error)[:400]}); the adapter is "
                                     f"saved at {finished.adapter_path}: merge it later with `python -m "
                                     f"lora_lens_trainer merge --run-dir {self.run_dir}`")


def _checkpoint_bytes(folder: Path, params: list[Any], optimizer: Any) -> int:
    """What the failed checkpoint needed: the previous one's size, else its tensors' (the optimizer state
    dominates; RNG and scheduler state are a few KB)."""
    from .checkpoint import latest

    previous = latest(folder)
    if previous is not None:
        return folder_bytes(previous)
    tensors = [v for state in optimizer.state.values() for v in state.values() if hasattr(v, "element_size")]
    return sum(t.numel() * t.element_size() for t in [*params, *tensors])
