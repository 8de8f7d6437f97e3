"""`run`: the training loop, with events, checkpoints, resume, graceful stop and out-of-memory reporting."""
from __future__ import annotations

import logging
import math
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .data.clean import clean_rows
from .data.order import epoch_batches, pack, shuffled, total_steps
from .data.readers import DataError, read_rows
from .data.tokenize import Example, tokenize_rows
from .events import EventWriter
from .plan import PlanError, TrainingPlan, read_plan

EXIT_OK, EXIT_FAILED, EXIT_OOM = 0, 1, 3
log = logging.getLogger("lora_lens_trainer")


class StopFlag:
    """SIGINT/SIGTERM ask for a stop; the loop checkpoints at the next step boundary and ends `stopped`."""

    def __init__(self) -> None:
        self.requested: str | None = None

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.requested is not None:
            # A second signal means "now": the checkpoint in progress is abandoned (it is written atomically).
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        log.info("%s received: stopping after the current step", self.requested)


def setup_logging(run_dir: Path) -> None:
    log.setLevel(logging.INFO)
    log.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    for handler in (logging.FileHandler(run_dir / "trainer.log", encoding="utf-8"), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(fmt)
        log.addHandler(handler)


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


def run(plan_path: Path, run_dir: Path, resume: bool, estimate_peak_bytes: float | None = None) -> int:
    from .modeling import set_offline

    set_offline()
    run_dir.mkdir(parents=True, exist_ok=True)
    setup_logging(run_dir)
    events = EventWriter(run_dir / "events.jsonl", echo=sys.stdout)
    stop = StopFlag()
    stop.install()
    try:
        plan = read_plan(plan_path)
    except PlanError as error:
        events.emit("error", kind="config", message=str(error), advice=[])
        events.emit("end", status="failed", step=0, final_loss=None, adapter_path=None)
        return EXIT_FAILED
    trainer = Trainer(plan, run_dir, events, stop, estimate_peak_bytes)
    try:
        return trainer.run(resume)
    finally:
        events.close()


class Trainer:
    def __init__(self, plan: TrainingPlan, run_dir: Path, events: EventWriter, stop: StopFlag,
                 estimate_peak_bytes: float | None) -> None:
        self.plan, self.run_dir, self.events, self.stop = plan, run_dir, events, stop
        self.estimate = estimate_peak_bytes
        self.step = 0
        self.started = time.time()
        self.last_loss: float | None = None
        self.device: Any = None

    def run(self, resume: bool) -> int:
        import torch

        from .modeling import ModelError

        try:
            return self._train(resume)
        except torch.OutOfMemoryError as error:
            return self._oom(error)
        except (DataError, ModelError, PlanError) as error:
            kind = {DataError: "data", ModelError: "model", PlanError: "config"}[type(error)]
            log.error("%s", error)
            self.events.emit("error", kind=kind, message=str(error), step=self.step, advice=[])
        except KeyboardInterrupt:
            log.error("stopped by a second signal before the checkpoint finished")
            self.events.emit("end", status="stopped", step=self.step, final_loss=self.last_loss,
                             elapsed_s=round(time.time() - self.started, 3), adapter_path=None)
            return EXIT_OK
        except Exception as error:  # the stream must end with an event the editor can show
            log.exception("internal error")
            self.events.emit("error", kind="internal", message=f"{type(error).__name__}: {error}", step=self.step, advice=[])
        self.events.emit("end", status="failed", step=self.step, final_loss=self.last_loss,
                         elapsed_s=round(time.time() - self.started, 3), adapter_path=None)
        return EXIT_FAILED

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
        self.events.emit("end", status="failed", step=self.step, final_loss=self.last_loss,
                         elapsed_s=round(time.time() - self.started, 3), adapter_path=None)
        return EXIT_OOM

    def _device(self) -> Any:
        import torch

        if not torch.cuda.is_available():
            self.events.emit("warning", kind="no_cuda", message="CUDA is not available: training on the CPU (slow)")
            return torch.device("cpu")
        device = torch.device("cuda", 0)
        limit = os.environ.get("LORA_LENS_GPU_MEMORY_LIMIT")
        if limit:
            # Lets a big card behave like a smaller one: the caching allocator refuses beyond this many bytes.
            total = torch.cuda.mem_get_info(device)[1]
            torch.cuda.set_per_process_memory_fraction(min(1.0, float(limit) / total), device)
        return device

    def _train(self, resume: bool) -> int:
        import torch

        from . import checkpoint, memory
        from .modeling import count_params, decoder_and_head, load_model, load_tokenizer
        from .optim import build_optimizer, build_scheduler

        plan, t = self.plan, self.plan.training
        self.device = device = self._device()
        random.seed(t.seed)
        torch.manual_seed(t.seed)
        tokenizer = load_tokenizer(plan)
        data = load_data(plan, tokenizer)
        for text in data.warnings:
            self.events.emit("warning", kind="data", message=text)
        bs, accum = t.per_device_train_batch_size, t.gradient_accumulation_steps
        n_batches = math.ceil(len(data.train_items) / bs)
        total = total_steps(n_batches, accum, t.num_train_epochs, t.max_steps)

        setup = load_model(plan, device)
        model = setup.model
        body, head = decoder_and_head(model)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer, note = build_optimizer(plan, params, device)
        if note:
            self.events.emit("warning", kind="optimizer", message=note)
        scheduler = build_scheduler(plan, optimizer, total)

        progress: dict[str, Any] = {"epoch": 0, "batch_index": 0, "tokens_seen": 0, "elapsed_s": 0.0}
        resumed_from = None
        if resume:
            found = checkpoint.latest(self.run_dir / "checkpoints")
            if found is None:
                raise PlanError(f"--resume: no complete checkpoint under {self.run_dir / 'checkpoints'}")
            progress = checkpoint.load(found, model, optimizer, scheduler, device)
            resumed_from = self.step = int(progress["step"])
            log.info("resumed from %s", found)
        trainable, total_params = count_params(model)
        gpu = None
        if device.type == "cuda":
            gpu = {"name": torch.cuda.get_device_name(device), "memory_bytes": memory.total_bytes(device)}
        self.events.emit("start", run_id=self.run_dir.name, total_steps=total, num_train_rows=data.num_train_rows,
                         num_eval_rows=data.num_eval_rows, method=plan.method, model=plan.model.name_or_path,
                         trainable_params=trainable, total_params=total_params, estimate_peak_bytes=self.estimate,
                         gpu=gpu, quantization_backend=setup.quantization_backend, resumed_from_step=resumed_from)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

        from .collate import collate_packed, collate_padded

        pad_id = tokenizer.pad_token_id
        attn = plan.model.attn_implementation

        def collate(indices: list[int]) -> Any:
            items = [data.train_items[i] for i in indices]
            if plan.data.packing:
                return collate_packed(items, pad_id, plan.data.max_length)
            return collate_padded([it[0] for it in items], pad_id)

        from .step import batch_loss

        model.train()
        epoch, batch_index = int(progress["epoch"]), int(progress["batch_index"])
        tokens_seen = int(progress["tokens_seen"])
        elapsed_before = float(progress["elapsed_s"])
        loop_start = time.time()
        window_start, window_tokens = time.time(), 0
        steps_this_process = 0
        batches = epoch_batches(len(data.train_items), data.item_lengths, bs, t.seed, epoch, plan.data.group_by_length)
        while self.step < total:
            if batch_index >= len(batches):
                epoch, batch_index = epoch + 1, 0
                batches = epoch_batches(len(data.train_items), data.item_lengths, bs, t.seed, epoch, plan.data.group_by_length)
            group = batches[batch_index:batch_index + accum]
            micro = [collate(b).to(device) for b in group]
            denominator = float(max(1, sum(m.n_targets for m in micro)))
            lr = scheduler.get_last_lr()[0]
            loss_sum = torch.zeros((), device=device)
            for m in micro:
                loss = batch_loss(body, head, m, denominator, device, setup.autocast_dtype, attn)
                loss.backward()
                loss_sum += loss.detach()
            max_norm = t.max_grad_norm if t.max_grad_norm > 0 else float("inf")
            grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            self.step += 1
            steps_this_process += 1
            batch_index += len(group)
            step_tokens = sum(m.n_tokens for m in micro)
            tokens_seen += step_tokens
            window_tokens += step_tokens
            if self.step % t.logging_steps == 0 or self.step == total or self.stop.requested:
                loss_value = float(loss_sum.item())
                if not math.isfinite(loss_value):
                    raise FloatingPointError(f"loss is {loss_value} at step {self.step}: lower training.learning_rate")
                self.last_loss = loss_value
                now = time.time()
                per_step = (now - loop_start) / steps_this_process
                elapsed = elapsed_before + now - loop_start
                self.events.emit("step", step=self.step, total_steps=total,
                                 epoch=round(epoch + batch_index / max(1, len(batches)), 4), loss=loss_value,
                                 learning_rate=lr, grad_norm=float(grad_norm.item()) if math.isfinite(grad_norm.item()) else None,
                                 tokens_per_second=round(window_tokens / max(now - window_start, 1e-9), 1),
                                 tokens_seen=tokens_seen, **memory.figures(device), elapsed_s=round(elapsed, 3),
                                 eta_s=round(per_step * (total - self.step), 3))
                window_start, window_tokens = now, 0
            if t.eval_steps and data.eval_examples and (self.step % t.eval_steps == 0 or self.step == total):
                self._evaluate(body, head, data.eval_examples, pad_id, device, setup.autocast_dtype, attn)
            state = {"epoch": epoch, "batch_index": batch_index, "tokens_seen": tokens_seen,
                     "elapsed_s": elapsed_before + time.time() - loop_start}
            if self.stop.requested or (self.step % t.save_steps == 0 and self.step < total):
                path = checkpoint.save(self.run_dir / "checkpoints", self.step, model, optimizer, scheduler, state,
                                       t.save_total_limit)
                self.events.emit("checkpoint", step=self.step, path=str(path))
            if self.stop.requested:
                self.events.emit("end", status="stopped", step=self.step, final_loss=self.last_loss,
                                 elapsed_s=round(state["elapsed_s"], 3), adapter_path=None)
                return EXIT_OK
        out_path = self._export(model, tokenizer, setup.lora_targets)
        elapsed = elapsed_before + time.time() - loop_start
        if plan.output.merge and plan.method != "full":
            from .merge import merge

            report = merge(self.run_dir, plan)
            log.info("merged: %s", report)
        self.events.emit("end", status="completed", step=self.step, final_loss=self.last_loss,
                         elapsed_s=round(elapsed, 3), adapter_path=str(out_path))
        return EXIT_OK

    def _evaluate(self, body: Any, head: Any, examples: list[Example], pad_id: int, device: Any,
                  autocast_dtype: Any, attn: str) -> None:
        import torch

        from .collate import collate_padded
        from .step import batch_loss

        bs = self.plan.training.per_device_eval_batch_size
        total_loss, total_targets = 0.0, 0
        body.eval()
        with torch.no_grad():
            for start in range(0, len(examples), bs):
                batch = collate_padded(examples[start:start + bs], pad_id).to(device)
                loss = batch_loss(body, head, batch, 1.0, device, autocast_dtype, attn)
                total_loss += float(loss.item())
                total_targets += batch.n_targets
        body.train()
        self.events.emit("eval", step=self.step, eval_loss=total_loss / max(1, total_targets),
                         elapsed_s=round(time.time() - self.started, 3))

    def _export(self, model: Any, tokenizer: Any, targets: list[str]) -> Path:
        from .atomic import staged_dir
        from .lora import save_adapter

        plan = self.plan
        if plan.method == "full":
            final = self.run_dir / "model"
            with staged_dir(final) as tmp:
                model.save_pretrained(tmp, safe_serialization=plan.output.safe_serialization)
                tokenizer.save_pretrained(tmp)
            return final
        lp = plan.lora
        assert lp is not None
        final = self.run_dir / "adapter"
        with staged_dir(final) as tmp:
            save_adapter(model, tmp, plan.model.name_or_path, lp.r, lp.lora_alpha, lp.lora_dropout, lp.use_rslora, targets)
            tokenizer.save_pretrained(tmp)
        return final
