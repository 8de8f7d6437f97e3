/** Pieces both dialect normalisers use: paths, run names, datasets, the distributed strategy, lost keys. */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { NodePath } from '../../document/configDocument';
import type { AttnImplementation, Distributed, Method, ModelRef } from '../../plan/types';
import { hubDatasetRef, looksLikeHubId, type HubDatasetOptions } from './datasetRef';
import { asString, type Obj } from './read';
import type { SourceRecorder } from './sourceMap';
import type { LostKey, NormalizeProblem } from './types';

export interface NormalizeOptions {
  /** File existence (tests inject one); defaults to fs.existsSync. */
  fileExists?: (path: string) => boolean;
}

/** Resolves a path of the document against the config's folder (the tools resolve against the CWD: usually the same). */
export function resolver(configPath: string | null): (path: string) => string {
  const base = configPath ? dirname(configPath) : process.cwd();
  return (path) => (isAbsolute(path) ? path : resolve(base, path));
}

const DATA_FILE = /\.(jsonl|json|csv|parquet|arrow|txt)$/i;

/**
 * A dataset path as axolotl reads it: a local file or folder when one exists (or it plainly names a file),
 * else a Hub dataset id (loaded with `hub`'s split, subset, revision and data_files).
 */
export function datasetLocation(
  path: string,
  absolute: (p: string) => string,
  opts: NormalizeOptions,
  hub: HubDatasetOptions = {},
): { plan: string; remote: boolean } {
  const exists = opts.fileExists ?? existsSync;
  const local = absolute(path);
  if (exists(local) || DATA_FILE.test(path) || /^(\.{1,2}[\\/]|[\\/]|~)/.test(path) || !looksLikeHubId(path))
    return { plan: local, remote: false };
  return { plan: hubDatasetRef(path, hub), remote: true };
}

/** The distributed strategy a DeepSpeed config file name or an FSDP setting names (the JSON itself is not read). */
export function distributedFrom(deepspeed: unknown, fsdp: boolean): { distributed: Distributed; lost?: string } {
  if (typeof deepspeed === 'string' && deepspeed.trim()) {
    const name = deepspeed.toLowerCase();
    const offload = /offload/.test(name) ? ' with CPU offload' : '';
    if (/z(ero)?_?3/.test(name))
      return {
        distributed: 'deepspeed_zero3',
        lost: offload ? `DeepSpeed ZeRO-3${offload}: the offload is not modelled` : undefined,
      };
    if (/z(ero)?_?2/.test(name))
      return {
        distributed: 'deepspeed_zero2',
        lost: offload ? `DeepSpeed ZeRO-2${offload}: the offload is not modelled` : undefined,
      };
    if (/z(ero)?_?[01]/.test(name))
      return {
        distributed: 'ddp',
        lost: 'DeepSpeed ZeRO-0/1 counted as data parallel (ZeRO-1 also shards the optimizer states)',
      };
    return {
      distributed: 'ddp',
      lost: 'DeepSpeed config not read (stage unknown from its name): counted as data parallel',
    };
  }
  if (deepspeed !== null && typeof deepspeed === 'object')
    return { distributed: 'ddp', lost: 'inline DeepSpeed config not read: counted as data parallel' };
  return { distributed: fsdp ? 'fsdp' : 'none' };
}

/** The model of a config read by transformers' from_pretrained: `model_revision` (null for `main`) and `trust_remote_code`, as LLaMA-Factory and TRL name them. */
export function hfModelRef(cfg: Obj, name: string, attn: AttnImplementation, load8: boolean): ModelRef {
  const revision = asString(cfg.model_revision);
  return {
    name_or_path: name,
    revision: revision && revision !== 'main' ? revision : null,
    trust_remote_code: cfg.trust_remote_code === true,
    attn_implementation: attn,
    ...(load8 ? { load_in_8bit: true } : {}),
  };
}

/** `runs/<model>-<method>` as our dialect names a default output folder. */
export function defaultRunName(model: string, method: Method): string {
  const base = model.split(/[\\/]/).filter(Boolean).pop() ?? 'model';
  return `${base.toLowerCase().replace(/[^a-z0-9.]+/g, '-')}-${method}`;
}

/** Collects lost keys, one entry per key path. */
export class LostKeys {
  readonly list: LostKey[] = [];
  private readonly seen = new Set<string>();

  add(key: NodePath, reason: string): void {
    const id = JSON.stringify(key);
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.list.push({ key, reason });
  }
}

/** What a normaliser's plan parts record into: the source map, the keys not carried over, the problems. */
export interface Recorders {
  src: SourceRecorder;
  lost: LostKeys;
  problems: NormalizeProblem[];
}
