/** Progress lines on stderr, each with the seconds since the bench started. */
export class Progress {
  readonly #start = performance.now();
  #lastLine = 0;

  elapsedSeconds(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /** Prints a line. */
  log(message: string): void {
    this.#lastLine = performance.now();
    process.stderr.write(`[${this.elapsedSeconds().toFixed(1).padStart(6)} s] ${message}\n`);
  }

  /** Prints a line unless one was printed less than `intervalMs` ago, for loops. */
  tick(message: string, intervalMs = 2_000): void {
    if (performance.now() - this.#lastLine >= intervalMs) {
      this.log(message);
    }
  }
}
