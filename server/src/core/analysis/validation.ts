/** Our dialect's schema validation lives with the dialect (dialects/lora-lens/validate.ts); this keeps the old import path. */
export * from '../dialects/lora-lens/validate';
