import {
  AbstractMessageWriter,
  StreamMessageReader,
  type Message,
  type MessageReader,
  type MessageWriter,
} from 'vscode-languageserver/node';

/**
 * vscode-jsonrpc's stream writer sends each message as two writes (the header, then, after the first write's
 * callback, the body). On a pipe that is two blocking syscalls and an extra turn of the event loop per message;
 * this writer sends header and body as one buffer. Order is kept: writes to one stream go out in call order.
 */
export class SingleWriteMessageWriter extends AbstractMessageWriter implements MessageWriter {
  constructor(private readonly output: NodeJS.WritableStream) {
    super();
    output.on('error', (error: Error) => this.fireError(error));
    output.on('close', () => this.fireClose());
  }

  write(message: Message): Promise<void> {
    const json = JSON.stringify(message);
    const frame = `Content-Length: ${Buffer.byteLength(json, 'utf8')}\r\n\r\n${json}`;
    return new Promise((resolve, reject) => {
      this.output.write(frame, 'utf8', (error) => {
        if (error) {
          this.fireError(error, message);
          reject(error);
        } else resolve();
      });
    });
  }

  end(): void {
    this.output.end();
  }
}

/** Reader and writer for `--stdio`; other transports (`--node-ipc`, as VS Code starts us) keep the library's. */
export function stdioTransport(argv: readonly string[]): [MessageReader, MessageWriter] | undefined {
  if (!argv.includes('--stdio')) return undefined;
  return [new StreamMessageReader(process.stdin), new SingleWriteMessageWriter(process.stdout)];
}
