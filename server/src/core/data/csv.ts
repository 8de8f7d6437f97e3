/** A CSV record and the 1-based line it starts on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * An incremental RFC 4180 parser: feed it text in chunks of any size (quoted fields may hold commas, quotes and line
 * breaks, CRLF or LF); it emits complete records. `end()` flushes the last record and says whether a quote was left
 * open.
 */
export class CsvParser {
  private field = '';
  private fields: string[] = [];
  private quoted = false;
  /** After a closing quote: the next char decides between an escaped quote and the end of the field. */
  private quoteSeen = false;
  private line = 1;
  private recordLine = 1;
  private pendingCR = false;

  constructor(private readonly onRecord: (record: CsvRecord) => void) {}

  write(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (this.pendingCR) {
        this.pendingCR = false;
        if (ch === '\n') continue;
      }
      if (this.quoted) {
        if (this.quoteSeen) {
          this.quoteSeen = false;
          if (ch === '"') {
            this.field += '"';
            continue;
          }
          this.quoted = false;
        } else {
          if (ch === '"') {
            this.quoteSeen = true;
            continue;
          }
          if (ch === '\n' || ch === '\r') this.line++;
          if (ch === '\r' && text[i + 1] === '\n') {
            this.field += '\r\n';
            i++;
            continue;
          }
          this.field += ch;
          continue;
        }
      }
      if (ch === '"' && this.field === '') {
        this.quoted = true;
        continue;
      }
      if (ch === ',') {
        this.fields.push(this.field);
        this.field = '';
        continue;
      }
      if (ch === '\n' || ch === '\r') {
        this.emit();
        this.line++;
        this.recordLine = this.line;
        if (ch === '\r') this.pendingCR = true;
        continue;
      }
      this.field += ch;
    }
  }

  /** Flushes the last record; true when the text ended inside a quoted field. */
  end(): boolean {
    const open = this.quoted && !this.quoteSeen;
    if (this.field !== '' || this.fields.length > 0 || this.quoted) this.emit();
    return open;
  }

  private emit(): void {
    this.fields.push(this.field);
    const fields = this.fields;
    this.field = '';
    this.fields = [];
    this.quoted = false;
    this.quoteSeen = false;
    this.onRecord({ fields, line: this.recordLine });
  }
}
