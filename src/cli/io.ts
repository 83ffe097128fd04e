// What a command may touch of the outside world besides the Context: its streams.
export interface Io {
  stdout(chunk: string | Uint8Array): void;
  stderr(chunk: string): void;
  readStdin(): Promise<Buffer>;
  /** stdout is a terminal (tables may be padded/coloured; plumbing ignores this). */
  isTTY: boolean;
  /** Colour allowed (TTY and NO_COLOR unset). */
  color: boolean;
  /** stderr is a terminal (progress bars; spec/sweeps.md §Progress). Absent: no. */
  stderrTTY?: boolean;
  /** The terminal's width in columns when stdout is a terminal; absent when piped. */
  columns?: number;
  /** The terminal's height in rows (qdo watch); absent when piped. */
  rows?: number;
  /** The terminal's size now (it may change while qdo watch runs); absent when piped. */
  size?: () => { columns: number; rows: number };
}

export interface CliEnv {
  ctx: import('../context.js').Context;
  io: Io;
}
