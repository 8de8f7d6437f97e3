#!/usr/bin/env python3
"""Writes schemas/finetune.schema.json. Kept as a generator so every key is described in one readable table;
run it after editing and commit both (a test checks the JSON is up to date)."""
import json, pathlib

def key(type_, desc, default=None, **kw):
    d = {"type": type_} if type_ else {}
    d.update(kw)
    if default is not None:
        d["default"] = default
    d["markdownDescription"] = desc
    return d

DTYPES = ["bfloat16", "float16", "float32"]

# Maxima for every count: far above any real run, low enough that no estimate or search loops for long on them
# (issue 17: a micro batch of 1e9 froze the server; above 2^53 a divisor search never ended).
BATCH_MAX = 65536
STEPS_MAX = 1_000_000_000
EPOCHS_MAX = 10_000
SEED_MAX = 2**32 - 1

model_obj = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name_or_path"],
    "properties": {
        "name_or_path": key("string", "Hugging Face model id (`org/name`) or a local directory holding `config.json`. Same as the first argument of transformers' `from_pretrained`.", minLength=1, examples=["Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "./models/my-model"]),
        "revision": key("string", "Git revision of the model repository (branch, tag or commit). Same as `from_pretrained(revision=...)`. Pin a commit for reproducible runs.", examples=["main"]),
        "trust_remote_code": key("boolean", "Run Python code shipped in the model repository (`from_pretrained(trust_remote_code=...)`). Only for models you trust: the code runs with your permissions.", False),
        "attn_implementation": key("string", "Attention kernel (`from_pretrained(attn_implementation=...)`). `sdpa` is PyTorch's fused attention and the safe default; `flash_attention_2` needs the flash-attn package (Linux only); `eager` is the slow reference.", "sdpa", enum=["sdpa", "eager", "flash_attention_2"]),
    },
}

schema = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$id": "https://lora-lens.dev/schemas/finetune.schema.json",
    "title": "LoRA Lens fine-tuning config (dialect v1)",
    "markdownDescription": "One file describes one fine-tuning run: the model, the method (full, LoRA, QLoRA), the data, the training arguments and the hardware. Names follow PEFT `LoraConfig`, transformers `BitsAndBytesConfig` and `TrainingArguments`.",
    "type": "object",
    "additionalProperties": False,
    "required": ["model", "method", "data"],
    "properties": {
        "model": {
            "markdownDescription": "The base model: a Hugging Face id such as `Qwen/Qwen2.5-7B-Instruct`, or a local directory holding `config.json`. The object form adds `revision`, `trust_remote_code` and `attn_implementation`.",
            "examples": ["Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct"],
            "anyOf": [{"type": "string", "minLength": 1}, model_obj],
        },
        "method": key("string", "How the model is trained.\n\n- `full`: every weight is trained (needs ~16-18 bytes per parameter of GPU memory with AdamW).\n- `lora`: the base model is frozen; small low-rank adapters are trained (PEFT LoRA).\n- `qlora`: LoRA on a base model quantized to 4-bit NF4 (QLoRA), the cheapest in memory.", enum=["full", "lora", "qlora"], examples=["qlora"]),
        "precision": key("string", "Numeric precision of training (Lightning's names).\n\n- `bf16-true`: weights, gradients and optimizer states in bfloat16.\n- `bf16-mixed`: fp32 master weights, forward/backward under bfloat16 autocast (transformers `bf16=True`).\n- `fp16-mixed`: the same with float16 and loss scaling, for GPUs without bf16 (T4, V100).\n- `fp32`: full precision, slow and large.", "bf16-true", enum=["bf16-true", "bf16-mixed", "fp16-mixed", "fp32"]),
        "lora": {
            "type": "object",
            "additionalProperties": False,
            "markdownDescription": "LoRA adapter settings, as in PEFT `LoraConfig`. Ignored for `method: full`.",
            "properties": {
                "r": key("integer", "Rank of the low-rank update (PEFT `LoraConfig.r`). Typical: 8 for < 1k rows, 16 for 1k-10k, 32-64 for > 100k. Memory and adapter size grow linearly with it.", 16, minimum=1, maximum=4096, examples=[8, 16, 32, 64]),
                "lora_alpha": key("number", "Scaling numerator (PEFT `lora_alpha`): the update is scaled by `lora_alpha / r` (or `lora_alpha / sqrt(r)` with rsLoRA). Usually 1-2x `r`.", 32, exclusiveMinimum=0, examples=[16, 32, 64]),
                "lora_dropout": key("number", "Dropout on the adapter input during training (PEFT `lora_dropout`). 0.05-0.1 for small data sets, 0 for large ones. Must be in [0, 1).", 0.05, minimum=0, exclusiveMaximum=1, examples=[0, 0.05, 0.1]),
                "target_modules": {
                    "markdownDescription": "Which linear layers get adapters (PEFT `target_modules`). `all-linear` adapts every linear layer but the output head, the usual best choice for generation; a list names modules such as `q_proj`, `k_proj`, `v_proj`, `o_proj`, `gate_proj`, `up_proj`, `down_proj`, matched as PEFT matches them: an entry selects the module of that full name or any whose full name (`model.layers.0.self_attn.q_proj`) ends in `.` + the entry, so `mlp.down_proj` selects every layer's and `layers.0.self_attn.q_proj` layer 0's only. Any other string is a regular expression that must match a module's whole full name (PEFT's `re.fullmatch`): `.*\\.(q|v)_proj` adapts every layer's query and value projections, `model\\.layers\\.(2[4-9]|3[01])\\..*_proj` the last eight layers of a 32-layer model.",
                    "examples": ["all-linear", ["q_proj", "k_proj", "v_proj", "o_proj"]],
                    "anyOf": [
                        {"type": "string", "enum": ["all-linear"]},
                        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "uniqueItems": True},
                        # PEFT takes any other string as a regular expression over the full name; one without a
                        # regex character is almost always a module name meant as a list, so it stays an error here.
                        {"type": "string", "pattern": r"[\\.*+?\[\](){}|^$]",
                         "title": "a regular expression over full module names (such as `.*\\.(q|v)_proj`)"},
                    ],
                },
                "bias": key("string", "Which biases are trained (PEFT `bias`): `none`, `all` or `lora_only`. `none` is the norm and keeps the adapter mergeable without touching the base.", "none", enum=["none", "all", "lora_only"]),
                "use_rslora": key("boolean", "Rank-stabilized LoRA (PEFT `use_rslora`): scale by `lora_alpha / sqrt(r)`, which keeps high ranks learning.", False),
                "use_dora": key("boolean", "Weight-decomposed LoRA (PEFT `use_dora`): better quality at small ranks, slower and more memory.", False),
            },
        },
        "quantization": {
            "type": "object",
            "additionalProperties": False,
            "markdownDescription": "4-bit quantization of the frozen base model, as in transformers `BitsAndBytesConfig`. Only for `method: qlora`.",
            "properties": {
                "load_in_4bit": key("boolean", "Load the base model in 4-bit (`BitsAndBytesConfig.load_in_4bit`). Must be `true` for QLoRA.", True),
                "bnb_4bit_quant_type": key("string", "4-bit data type (`bnb_4bit_quant_type`). `nf4` (NormalFloat4, the QLoRA paper's) is better for normally distributed weights than `fp4`.", "nf4", enum=["nf4", "fp4"]),
                "bnb_4bit_use_double_quant": key("boolean", "Quantize the quantization constants too (`bnb_4bit_use_double_quant`): 4.127 instead of 4.5 bits per weight, about 0.4 GB saved on a 7B model.", True),
                "bnb_4bit_compute_dtype": key("string", "Dtype the 4-bit weights are dequantized to for each matmul (`bnb_4bit_compute_dtype`). `bfloat16` on GPUs that have it (Ampere and newer), else `float16`.", "bfloat16", enum=DTYPES),
                "prepare_for_kbit_training": key("boolean", "Call PEFT `prepare_model_for_kbit_training` before adding LoRA: casts norms and the head to fp32 and enables input gradients for checkpointing. Skipping it makes QLoRA unstable.", True),
                "upcast_non_quantized": key("boolean", "Keep the weights that are not quantized (embeddings, `lm_head`, norms) in fp32, as PEFT's `prepare_model_for_kbit_training` casts them. `false` (lean QLoRA, Unsloth's and torchtune's way) keeps them in the compute dtype: about 4 GiB less on a 7B model and a bf16 residual stream, with the same loss curve; the LoRA adapters and their optimizer states stay fp32 either way. The bundled trainer only; axolotl and LLaMA-Factory always upcast.", False),
            },
        },
        "data": {
            "type": "object",
            "additionalProperties": False,
            "required": ["train"],
            "markdownDescription": "The training data: files relative to this config, their format, and how samples are tokenized.",
            "properties": {
                "train": key("string", "Training file, relative to this config: `.jsonl`, `.json`, `.csv` or `.parquet`. Or a Hugging Face Hub dataset, `hf://datasets/<owner>/<name>` with optional `?split=train&name=<subset>&revision=<rev>&data_files=<file>` (read with `datasets`, which honours `HF_HOME`, `HF_TOKEN` and `HF_HUB_OFFLINE`; the editor inspects it from the local Hugging Face cache).", minLength=1, examples=["data/train.jsonl", "hf://datasets/mhenrichsen/alpaca_2k_test"]),
                "eval": key("string", "Optional evaluation file, relative to this config, or a Hub dataset (`hf://datasets/<owner>/<name>?split=test`, as `data.train`). Without one, over-fitting can't be seen.", minLength=1, examples=["data/eval.jsonl"]),
                "format": key("string", "Row format.\n\n- `chat`: `{\"messages\": [{\"role\": \"user\", \"content\": \"...\"}, ...]}`\n- `instruction`: `{\"prompt\": \"...\", \"completion\": \"...\"}`\n- `text`: `{\"text\": \"...\"}` (plain language modelling)\n\nWith `objective: dpo` the rows are `{\"prompt\", \"chosen\", \"rejected\"}` whatever the format: strings, or lists of chat messages rendered with `chat_template`.", "chat", enum=["chat", "instruction", "text"]),
                "chat_template": key("string", "How chat rows become text: `auto` uses the tokenizer's own template; a named template (`chatml`, `llama3`, `mistral`, `gemma`, `phi3`, `qwen2`, `zephyr`); or inline Jinja. A template of another model family trains garbled turns while the loss looks fine.", "auto", minLength=1, examples=["auto", "chatml", "llama3"]),
                "max_length": key("integer", "Longest sample in tokens; longer ones are truncated (TRL `SFTConfig.max_length`). Activation memory grows linearly with it, attention compute quadratically. At least 2: a one-token sample has no next token to learn.", 1024, minimum=2, maximum=1048576, examples=[512, 1024, 2048, 4096]),
                "packing": key("boolean", "Pack several samples into one `max_length` sequence (TRL `packing`); position ids restart per sample so they do not attend to each other. Faster on short samples.", False),
                "group_by_length": key("boolean", "Batch samples of similar length together (`TrainingArguments.group_by_length`) to waste less compute on padding.", False),
                "train_on_prompt": key("boolean", "Also train on prompt tokens. `false` masks the prompt so only completions (assistant turns) contribute to the loss.", False),
                "dedupe": key("boolean", "Drop exact duplicate rows before training.", False),
                "strip_html": key("boolean", "Strip HTML tags from text before tokenizing.", False),
            },
        },
        "training": {
            "type": "object",
            "additionalProperties": False,
            "markdownDescription": "Optimization settings, named as in transformers `TrainingArguments`.",
            "properties": {
                "learning_rate": key("number", "Peak learning rate (`TrainingArguments.learning_rate`). Typical: 1e-4 to 3e-4 for LoRA/QLoRA, 1e-5 to 5e-5 for full fine-tuning. Default: 2e-4 for LoRA/QLoRA, 2e-5 for full.", exclusiveMinimum=0, maximum=1, examples=[2.0e-4, 1.0e-4, 2.0e-5]),
                "per_device_train_batch_size": key("integer", "Micro batch per GPU (`per_device_train_batch_size`). Activation memory grows linearly with it.", 8, minimum=1, examples=[1, 2, 4, 8], maximum=BATCH_MAX),
                "per_device_eval_batch_size": key("integer", "Batch per GPU during evaluation (`per_device_eval_batch_size`).", 8, minimum=1, maximum=BATCH_MAX),
                "gradient_accumulation_steps": key("integer", "Micro batches per optimizer step (`gradient_accumulation_steps`). Effective batch = micro batch x accumulation x GPUs; aim for 32-128.", 1, minimum=1, examples=[1, 4, 8, 16], maximum=BATCH_MAX),
                "num_train_epochs": key("number", "Passes over the training data (`num_train_epochs`). 1-3 for LoRA; more over-fits.", 3, exclusiveMinimum=0, examples=[1, 2, 3], maximum=EPOCHS_MAX),
                "max_steps": key("integer", "Stop after this many optimizer steps, overriding epochs (`max_steps`); -1 means use epochs.", -1, minimum=-1, examples=[-1, 1000], maximum=STEPS_MAX),
                "warmup_ratio": key("number", "Share of steps over which the learning rate ramps up from 0 (`warmup_ratio`). Typical 0.03-0.1.", 0.0, minimum=0, maximum=1, examples=[0.03, 0.05, 0.1]),
                "warmup_steps": key("integer", "Warm-up in steps, overriding `warmup_ratio` when > 0 (`warmup_steps`).", 0, minimum=0, maximum=STEPS_MAX),
                "lr_scheduler_type": key("string", "Learning-rate schedule after warm-up (`lr_scheduler_type`). `cosine` decays smoothly and is the usual choice for fine-tuning.", "linear", enum=["linear", "cosine", "constant", "constant_with_warmup"]),
                "max_grad_norm": key("number", "Gradient clipping threshold (`max_grad_norm`). 1.0 is standard; 0 disables clipping, which lets one bad batch blow up a run.", 1.0, minimum=0, examples=[1.0, 0.3]),
                "weight_decay": key("number", "AdamW weight decay (`weight_decay`). 0 for LoRA; 0.01-0.1 for full fine-tuning.", 0.0, minimum=0, maximum=1),
                "optim": key("string", "Optimizer (`optim`). `adamw_torch` keeps two fp32 states per trainable parameter (8 bytes); `adamw_8bit` / `paged_adamw_8bit` (bitsandbytes) keep 2 bytes, paged spills to CPU under pressure.", "adamw_torch", enum=["adamw_torch", "adamw_torch_fused", "adamw_8bit", "paged_adamw_8bit", "adafactor", "sgd"]),
                "gradient_checkpointing": key(["boolean", "string"], "Recompute activations in backward instead of keeping them (`gradient_checkpointing`). `true`: every decoder layer (activation memory falls to about one layer's worth, at ~30% more compute); `false`: none; `auto` (the default): the fewest layers that keep the estimated peak under the GPU's memory with a 10% margin, chosen from the estimate before the run (every layer when the GPU is unknown; where even every layer does not fit, the fewest layers that fit with their inputs offloaded to CPU memory, as `offload`); `offload`: every layer, with the inputs they keep in pinned CPU memory instead of on the GPU (copied out in the forward and back in backward beside the compute; the estimate adds the PCIe time the compute does not hide).", "auto", enum=[True, False, "auto", "offload"]),
                "seed": key("integer", "Random seed for data order, dropout and adapter init (`seed`).", 42, minimum=0, maximum=SEED_MAX),
                "logging_steps": key("integer", "Log every N optimizer steps (`logging_steps`).", 10, minimum=1, maximum=STEPS_MAX),
                "eval_steps": key("integer", "Evaluate every N optimizer steps (`eval_steps`); needs `data.eval`.", minimum=1, examples=[50, 100], maximum=STEPS_MAX),
                "save_steps": key("integer", "Write a checkpoint every N optimizer steps (`save_steps`); runs resume from the last one.", 500, minimum=1, examples=[100, 500], maximum=STEPS_MAX),
                "save_total_limit": key("integer", "Keep at most N checkpoints (`save_total_limit`); older ones are deleted.", minimum=1, examples=[2, 3], maximum=STEPS_MAX),
                "dataloader_num_workers": key("integer", "Worker processes loading data (`dataloader_num_workers`). 0 loads in the main process (required on Windows with some setups).", 0, minimum=0, maximum=64),
            },
        },
        "hardware": {
            "type": "object",
            "additionalProperties": False,
            "markdownDescription": "Where the run happens; used by the memory-fit estimate.",
            "properties": {
                "gpu": key("string", "GPU to estimate against: `auto` (detected with `nvidia-smi`), a catalog name (`RTX 4090`, `A100-80GB`, `H100-80GB`, `T4`, `L4`) or a memory size (`24GiB`).", "auto", minLength=1, examples=["auto", "RTX 4090", "A100-80GB", "H100-80GB", "24GiB"]),
                "num_gpus": key("integer", "GPUs on this host (launched through `torchrun`).", 1, minimum=1, maximum=64),
                "distributed": key("string", "Multi-GPU strategy: `ddp` replicates the model; `fsdp` and `deepspeed_zero3` shard weights, gradients and optimizer states; `deepspeed_zero2` shards gradients and optimizer states.", "none", enum=["none", "ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"]),
                "fsdp": {
                    "type": "object",
                    "additionalProperties": False,
                    "markdownDescription": "FSDP's options (with `distributed: fsdp`), named as axolotl's FSDP2 `fsdp_config` and accelerate name them.",
                    "properties": {
                        "offload_params": key("boolean", "Keep each GPU's shard of the parameters, gradients and optimizer states in CPU memory (FSDP2 `CPUOffloadPolicy`): the GPU holds only the layers being computed, and the optimizer step runs on the CPU. Fits a larger model per GPU at the cost of a slower step and pinned CPU memory (the estimate's RAM line). Only with `distributed: fsdp`; also on one GPU (`num_gpus: 1`: a one-rank `torchrun`), for a model larger than the GPU.", False),
                    },
                },
                "cost_per_hour": key("number", "What one GPU costs per hour (any currency), for the estimated cost of the run beside its time. Unset: the editor's `loraLens.gpuHourlyCost` setting, else no cost is shown.", minimum=0, examples=[0.7, 2.5]),
            },
        },
        "output": {
            "type": "object",
            "additionalProperties": False,
            "markdownDescription": "Where the run writes its adapter or model, and the export after training.",
            "properties": {
                "dir": key("string", "Run output directory, relative to this config.", minLength=1, examples=["runs/qwen2.5-7b-qlora"]),
                "merge": key("boolean", "Merge the adapter into the base model after training (PEFT `merge_and_unload`).", False),
                "merge_dtype": key("string", "Dtype of the merged model. `bfloat16` or `float16`; a QLoRA base is reloaded in this dtype before merging.", "bfloat16", enum=DTYPES),
                "merge_base": key("string", "What a QLoRA adapter is merged into (with `merge: true`).\n\n- `dequantized`: the 4-bit NF4 base weights, dequantized to `merge_dtype`: the weights the adapter was trained against, so the merged model behaves as the trained one did.\n- `original`: the unquantized base reloaded from the model files; slightly different from what was trained (the adapter also corrected quantization error), but free of that error.\n\nIgnored for `lora` and `full`.", "dequantized", enum=["dequantized", "original"]),
                "safe_serialization": key("boolean", "Save as safetensors (`save_pretrained(safe_serialization=...)`).", True),
            },
        },
        "objective": key("string", "What the run optimises.\n\n- `sft`: supervised fine-tuning on `data.format` rows (the default).\n- `dpo`: direct preference optimisation (TRL `DPOTrainer`) on `{\"prompt\", \"chosen\", \"rejected\"}` rows, each a string or a list of chat messages: the model learns to rank the chosen answer above the rejected one, measured against a reference model. With `lora`/`qlora` the reference is the same model with the adapter disabled (no second copy); with `full` the bundled trainer computes the reference log-probabilities once from the starting weights, before training (no frozen copy). DPO wants a learning rate 10-40x below SFT's (the default becomes 5e-6 for LoRA, 5e-7 for full) and usually starts from a model that had SFT. Settings in `dpo`.\n- `orpo`: odds-ratio preference optimisation (TRL `ORPOTrainer`) on the same pairs, with no reference model: the chosen answer's NLL (prompt and answer, as TRL) plus β times an odds-ratio term, so it can start from a base model and also runs with `full`. Settings in `orpo`.\n- `simpo`: SimPO (TRL `CPOTrainer` with `loss_type: simpo`), no reference model: the margin of the answers' mean token log-probabilities, scaled by β, must exceed γ. Settings in `simpo`.\n- `kto`: KTO (TRL `KTOTrainer`) on unpaired `{\"prompt\", \"completion\", \"label\"}` rows (label `true` for a desirable answer, `false` for an undesirable one), against the reference (the adapter disabled; `lora`/`qlora` only) and a KL estimate from mismatched rows of the micro-batch (so `per_device_train_batch_size` of 2 or more). Settings in `kto`.\n\n`orpo`, `simpo` and `kto` take DPO's lower learning rates by default.", "sft", enum=["sft", "dpo", "orpo", "simpo", "kto"]),
        "dpo": {
            "type": "object",
            "additionalProperties": False,
            "markdownDescription": "Direct preference optimisation settings (TRL `DPOConfig` names), read with `objective: dpo` (ignored for `sft`). Each pair's chosen and rejected answers go through the model in one forward; the prompt is masked and the log-probabilities are summed over the answer's tokens.",
            "properties": {
                "beta": key("number", "How far the model may move from the reference (TRL `beta`; IPO's τ). Higher keeps it closer. Usual: 0.01-0.5; 0.1 is the DPO paper's and TRL's default.", 0.1, exclusiveMinimum=0, maximum=100, examples=[0.05, 0.1, 0.3]),
                "loss": key("string", "The preference loss (TRL `loss_type`).\n\n- `sigmoid`: DPO's own, -log σ(β·Δ) over the margin Δ of the log-ratios.\n- `ipo`: IPO (Azar et al. 2023), (Δ/tokens - 1/(2β))², bounded: less over-fitting on deterministic preferences.\n- `hinge`: SLiC's max(0, 1 - β·Δ).", "sigmoid", enum=["sigmoid", "ipo", "hinge"]),
                "label_smoothing": key("number", "Conservative DPO (cDPO): the probability that a pair's preference is flipped, for noisy labels; `sigmoid` loss only. 0 (the default) is plain DPO. Must be in [0, 0.5).", 0, minimum=0, exclusiveMaximum=0.5, examples=[0, 0.1]),
            },
        },
        "kto": {
            "type": "object",
            "additionalProperties": False,
            "markdownDescription": "KTO settings (TRL `KTOConfig` names), read with `objective: kto`. A desirable row's loss is 1 - σ(β(log-ratio - KL)), an undesirable row's 1 - σ(β(KL - log-ratio)), each weighted.",
            "properties": {
                "beta": key("number", "How far the model may move from the reference (TRL `beta`). TRL's default 0.1.", 0.1, exclusiveMinimum=0, maximum=100, examples=[0.1, 0.3]),
                "desirable_weight": key("number", "Weight of the desirable rows' losses. With unbalanced data, the KTO paper keeps desirable_weight × desirable rows / (undesirable_weight × undesirable rows) in [1, 4/3].", 1, exclusiveMinimum=0, maximum=100, examples=[1, 1.33]),
                "undesirable_weight": key("number", "Weight of the undesirable rows' losses.", 1, exclusiveMinimum=0, maximum=100, examples=[1, 0.75]),
            },
        },
        "init_from": key("string", "Start from a finished LoRA Lens run (its folder, relative to this file): its adapter is merged into `model` before training, so the run starts from that model, and a preference objective (`dpo`) uses it as the reference. The usual path to alignment: an SFT run, then `objective: dpo` with `init_from:` its folder. The run must have completed, on the same `model`, with `method: lora` or `qlora`; this run's method must be `lora` or `full` (a 4-bit base cannot take the merged update).", minLength=1, examples=["runs/qwen2.5-7b-lora"]),
        "orpo": {
            "type": "object",
            "additionalProperties": False,
            "markdownDescription": "ORPO settings (TRL `ORPOConfig` names), read with `objective: orpo`. No reference model: the loss is the chosen answer's NLL minus β·log σ(log-odds of chosen over rejected), each side scored by its answer's mean token log-probability.",
            "properties": {
                "beta": key("number", "The odds-ratio term's weight against the NLL (λ in the ORPO paper; TRL `beta`). TRL's default 0.1; the paper used 0.1-0.25.", 0.1, exclusiveMinimum=0, maximum=100, examples=[0.05, 0.1, 0.25]),
            },
        },
        "simpo": {
            "type": "object",
            "additionalProperties": False,
            "markdownDescription": "SimPO settings (TRL `CPOConfig` names with `loss_type: simpo`), read with `objective: simpo`. No reference model: -log σ(β·(p̄chosen - p̄rejected) - γ), p̄ being an answer's mean token log-probability.",
            "properties": {
                "beta": key("number", "The reward scale (TRL `beta`). The SimPO paper uses 2.0-10 (2.0-2.5 for most models); far above DPO's 0.1 because p̄ is a per-token mean.", 2.0, exclusiveMinimum=0, maximum=100, examples=[2.0, 2.5, 10]),
                "gamma": key("number", "The target reward margin γ (TRL `simpo_gamma`). The paper's γ/β is 0.3-1.6; TRL's default 0.5.", 0.5, minimum=0, maximum=100, examples=[0.5, 1.0, 1.4]),
                "cpo_alpha": key("number", "Weight of an NLL term on the chosen answers (TRL `cpo_alpha`). 0 (the default) is SimPO as published; TRL's CPO default is 1.", 0, minimum=0, maximum=100, examples=[0, 0.05, 1]),
                "label_smoothing": key("number", "The probability that a pair's preference is flipped, for noisy labels (as DPO's). Must be in [0, 0.5).", 0, minimum=0, exclusiveMaximum=0.5, examples=[0, 0.1]),
            },
        },
        "eval": {
            "type": "object",
            "additionalProperties": False,
            "markdownDescription": "What `lora-lens eval` (and **LoRA Lens: Evaluate Run**) does after training: the tuned model and its base (the same weights, adapter disabled) each answer every prompt of the evaluation file, and the answers are scored against the references with `metrics`. Loss and perplexity on the file are always reported. See docs/metrics.md.",
            "properties": {
                "file": key("string", "The evaluation file, in `data.format` (the last assistant turn, or `completion`, is the reference). Default: `data.eval`. Relative to this file.", minLength=1, examples=["data/test.jsonl"]),
                "metrics": {
                    "type": "array",
                    "uniqueItems": True,
                    "minItems": 1,
                    "default": ["exact_match", "f1", "rouge_l", "bleu"],
                    "markdownDescription": "The task metrics, each tuned against base.\n\n- `exact_match`, `f1`: extraction and short answers (SQuAD normalisation: lowercase, no punctuation or articles; F1 over tokens).\n- `accuracy`, `macro_f1`: classification, over the labels seen in the references.\n- `rouge_l`: generation, the longest-common-subsequence F-measure over tokens.\n- `bleu`: generation, corpus BLEU-4 as sacreBLEU computes it.\n- `json_valid`: the share of answers that parse as JSON.\n- `json_fields`: the share that also satisfy `json_schema`.",
                    "items": {"type": "string", "enum": ["exact_match", "f1", "accuracy", "macro_f1", "rouge_l", "bleu", "json_valid", "json_fields"]},
                    "examples": [["exact_match", "f1"], ["accuracy", "macro_f1"], ["rouge_l", "bleu"], ["json_valid", "json_fields"]],
                },
                "json_schema": key("string", "A JSON schema file (relative to this file) that the `json_fields` metric checks each answer against (ajv). Needed for `json_fields`.", minLength=1, examples=["schemas/answer.schema.json"]),
                "max_new_tokens": key("integer", "The most tokens generated per answer (transformers `generate(max_new_tokens=...)`). Generation also stops at EOS and, with `stop_at_end_of_turn`, at the chat template's end-of-turn token. Its KV cache is part of the evaluation's memory estimate.", 128, minimum=1, maximum=32768, examples=[32, 128, 512]),
                "batch_size": key("integer", "Prompts answered together (and rows per loss batch). Larger is faster; the evaluation's memory grows with it (the KV cache and the logits of the loss pass).", 8, minimum=1, maximum=BATCH_MAX, examples=[1, 8, 32]),
                "temperature": key("number", "0 (the default): greedy decoding, the same answer every time. Above 0: sampling at this temperature, seeded with `training.seed`.", 0, minimum=0, maximum=100, examples=[0, 0.7]),
                "stop_at_end_of_turn": key("boolean", "Stop an answer at the chat template's end-of-turn token (`<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`...) as well as at EOS. Off only for a template whose turns end in EOS anyway.", True),
                "general_text": key("string", "Plain text (`.txt`, or rows with a `text` field) for the forgetting check: perplexity of the tuned model against the base on it, with the change in percent (a rise over 5% is reported as forgetting). Relative to this file.", minLength=1, examples=["data/general.txt"]),
            },
        },
        "engine": key("string", "Which trainer the memory estimate models: `lora-lens` (the bundled trainer: chunked cross-entropy) or `hf` (transformers Trainer + PEFT, as axolotl and LLaMA-Factory run).", "lora-lens", enum=["lora-lens", "hf"]),
        "$schema": key("string", "Where other editors' JSON tooling finds this schema (LoRA Lens itself ignores the key): the path or URL of `schemas/finetune.schema.json`. See docs/config.md, \"Other editors\".", minLength=1, examples=["https://raw.githubusercontent.com/lora-lens/lora-lens/main/schemas/finetune.schema.json"]),
    },
    "allOf": [
        {
            "if": {"properties": {"method": {"const": "qlora"}}, "required": ["method"]},
            "then": {"properties": {"quantization": {"properties": {"load_in_4bit": {"const": True, "markdownDescription": "QLoRA needs a 4-bit base: `load_in_4bit` must be true."}}}}},
        },
        {
            "if": {"properties": {"method": {"const": "full"}}, "required": ["method"]},
            "then": {"properties": {"quantization": False, "lora": False}},
        },
        {
            "if": {"properties": {"method": {"const": "lora"}}, "required": ["method"]},
            "then": {"properties": {"quantization": False}},
        },
    ],
}

import sys
out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent / "schemas" / "finetune.schema.json"
out.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
