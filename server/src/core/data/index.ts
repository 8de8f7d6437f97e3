export type { DataFileKind, DatasetFacts, LengthStats, RowCount, RowRef } from './types';
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_MS, dataFileKind, inspectDataset } from './inspect';
export type { InspectOptions } from './inspect';
export { DatasetInspector } from './datasetInspector';
export { inspectData, inspectHubDataset } from './hubInspect';
export type { Disposable } from './datasetInspector';
export { tokenizerPathFor } from './tokenizerPath';
export type { RowLayout } from './layout';
export { layoutShape } from './layout';
