export { estimateThroughput } from './estimate';
export type { ThroughputEstimate } from './estimate';
export { estimateTrainingTime, formatDurationShort, paddedBatchLength } from './time';
export type { TrainingTime } from './time';
export { stepWork, matmulFlopsPerToken } from './flops';
export type { StepWork } from './flops';
