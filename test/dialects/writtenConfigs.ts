/** Configs written for the dialect tests as users write them (not copied from the tools' examples). */

/** An axolotl LoRA config axolotl accepts and no rule flags much: tests append the keys they are about. */
export const AXOLOTL_LORA = `base_model: Qwen/Qwen2.5-0.5B-Instruct
adapter: lora
lora_r: 16
lora_alpha: 32
lora_target_linear: true
datasets:
  - path: tatsu-lab/alpaca
    type: alpaca
sequence_len: 1024
micro_batch_size: 2
gradient_accumulation_steps: 8
num_epochs: 1
learning_rate: 0.0002
warmup_ratio: 0.03
lr_scheduler: cosine
`;
