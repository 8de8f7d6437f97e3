import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type ConfigurationParams,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
  type TextDocumentContentChangeEvent,
} from 'vscode-languageserver-protocol/node';

export const REPO = join(__dirname, '..', '..');
export const SCHEMA_URI = pathToFileURL(join(REPO, 'schemas', 'finetune.schema.json')).href;

type SchemaNode = Record<string, unknown>;

/** Closes an object schema that lists its properties and says nothing of others, and those under it. */
function closeObjects(node: SchemaNode): SchemaNode {
  const properties = node.properties as Record<string, SchemaNode> | undefined;
  if (!properties) return node;
  const closed = Object.fromEntries(Object.entries(properties).map(([key, child]) => [key, closeObjects(child)]));
  const open = 'additionalProperties' in node || 'patternProperties' in node;
  return { ...node, properties: closed, ...(open ? {} : { additionalProperties: false }) };
}

/**
 * The axolotl schema for yaml-language-server, with unknown keys rejected at the top level and in nested blocks
 * that list their keys (`special_tokens`): axolotl's own schema allows them at the top (axolotl drops them), but
 * both servers must report the key the bench types in, so both do the same work.
 */
function strictAxolotlSchemaUri(): string {
  const schema = JSON.parse(readFileSync(join(REPO, 'schemas', 'axolotl.schema.json'), 'utf8')) as SchemaNode;
  const path = join(mkdtempSync(join(tmpdir(), 'lora-lens-bench-')), 'axolotl.strict.schema.json');
  writeFileSync(path, JSON.stringify({ ...closeObjects(schema), additionalProperties: false }));
  return pathToFileURL(path).href;
}

/** A publishDiagnostics and the moment (performance.now) the client received it. */
export interface Published {
  params: PublishDiagnosticsParams;
  at: number;
}

interface ServerSpec {
  name: string;
  script: string;
  env: NodeJS.ProcessEnv;
  /** Extra node arguments, e.g. --cpu-prof when profiling ours. */
  nodeArgs?: string[];
  /** The answer to one workspace/configuration item. */
  configuration: (section: string | undefined) => unknown;
  /** Sent after `initialized`, for servers that read their settings from didChangeConfiguration. */
  settings?: unknown;
}

/** yaml-language-server validating *.finetune.yaml against our schema, hover/completion/format off. */
const YAML_SETTINGS = {
  validate: true,
  hover: false,
  completion: false,
  format: { enable: false },
  schemas: { [SCHEMA_URI]: ['*.finetune.yaml'], [strictAxolotlSchemaUri()]: ['*.axolotl.yml'] },
  schemaStore: { enable: false },
  kubernetesCRDStore: { enable: false },
  maxItemsComputed: 5000,
};

export const SPECS: ServerSpec[] = [
  {
    name: 'lora-lens',
    script: join(REPO, 'dist', 'server.js'),
    env: { LORA_LENS_DEBOUNCE_MS: '0' },
    configuration: () => ({ files: [] }),
  },
  {
    name: 'yaml-ls',
    script: join(__dirname, 'yaml-ls-no-debounce.cjs'),
    env: {},
    configuration: (section) =>
      section === 'yaml' ? YAML_SETTINGS : section === 'http' ? { proxy: '', proxyStrictSSL: false } : {},
    settings: { yaml: YAML_SETTINGS },
  },
];

/** One real language server process, driven over JSON-RPC on stdio. */
export class BenchServer {
  readonly connection: ProtocolConnection;
  private readonly process: ChildProcess;
  private waiter: { uri: string; version: number | undefined; resolve: (p: Published) => void } | undefined;
  stderr = '';
  /** Publishes that no edit was waiting for (a server that publishes twice per change would show up here). */
  unexpected = 0;

  constructor(readonly spec: ServerSpec) {
    this.process = spawn(process.execPath, [...(spec.nodeArgs ?? []), spec.script, '--stdio'], {
      cwd: REPO,
      env: { ...process.env, ...spec.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.process.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.connection = createProtocolConnection(
      new StreamMessageReader(this.process.stdout!),
      new StreamMessageWriter(this.process.stdin!),
    );
    this.connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
      const at = performance.now();
      const waiter = this.waiter;
      // yaml-language-server publishes without a version: the first publish after the change is the answer.
      if (
        waiter &&
        waiter.uri === params.uri &&
        (params.version === undefined || waiter.version === undefined || params.version === waiter.version)
      ) {
        this.waiter = undefined;
        waiter.resolve({ params, at });
      } else {
        this.unexpected++;
      }
    });
    this.connection.onRequest('workspace/configuration', (params: ConfigurationParams) =>
      params.items.map((item) => spec.configuration(item.section)),
    );
    this.connection.onRequest('client/registerCapability', () => null);
    this.connection.onRequest('window/workDoneProgress/create', () => null);
    this.connection.listen();
  }

  get name(): string {
    return this.spec.name;
  }

  async initialize(): Promise<void> {
    const rootUri = pathToFileURL(REPO).href;
    await this.connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri,
      workspaceFolders: [{ uri: rootUri, name: 'lora-lens' }],
      capabilities: {
        workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: false } },
        textDocument: { publishDiagnostics: { versionSupport: true } },
      },
    });
    await this.connection.sendNotification('initialized', {});
    if (this.spec.settings)
      await this.connection.sendNotification('workspace/didChangeConfiguration', { settings: this.spec.settings });
  }

  private expect(uri: string, version: number | undefined, timeoutMs: number): Promise<Published> {
    if (this.waiter) throw new Error(`${this.name}: already waiting for diagnostics`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`${this.name}: no diagnostics for ${uri} v${version} within ${timeoutMs} ms\n${this.stderr}`));
      }, timeoutMs);
      this.waiter = {
        uri,
        version,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      };
    });
  }

  async open(uri: string, text: string, version = 1): Promise<Published> {
    const published = this.expect(uri, version, 30_000);
    await this.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId: 'yaml', version, text },
    });
    return published;
  }

  /** Sends one didChange and resolves with the diagnostics it produced and the milliseconds it took. */
  async change(
    uri: string,
    version: number,
    changes: TextDocumentContentChangeEvent[],
  ): Promise<{ published: Published; ms: number }> {
    const published = this.expect(uri, version, 30_000);
    const start = performance.now();
    await this.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version },
      contentChanges: changes,
    });
    const result = await published;
    return { published: result, ms: result.at - start };
  }

  async close(uri: string): Promise<void> {
    const published = this.expect(uri, undefined, 10_000);
    await this.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
    await published;
  }

  /** Lets late messages (settings pulls, schema loads) settle, then forgets publishes nobody waited for. */
  async settle(ms: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.unexpected = 0;
  }

  async dispose(): Promise<void> {
    try {
      await Promise.race([
        this.connection.sendRequest('shutdown'),
        new Promise((resolve) => setTimeout(resolve, 2000)),
      ]);
      await this.connection.sendNotification('exit');
    } catch {
      /* already gone */
    }
    // Give the process a moment to exit by itself (a --cpu-prof profile is written on a clean exit only).
    if (this.process.exitCode === null)
      await new Promise((resolve) => {
        this.process.once('exit', resolve);
        setTimeout(resolve, 2000);
      });
    this.connection.dispose();
    if (this.process.exitCode === null) this.process.kill();
  }
}
