/**
 * The pipeline's progress line on stderr: `\r`-rewritten at most every 200 ms, first drawn once the
 * pipeline has run for `delayMs` (short runs stay quiet), ended with a newline by `done()`.
 */
import { stderrWriter, type Writer } from '../report.js'

export class Progress {
  private timer: NodeJS.Timeout | undefined
  private shown = false
  private drawn = false

  constructor (
    private readonly text: () => string,
    private readonly write: Writer = stderrWriter,
    private readonly intervalMs = 200,
    private readonly delayMs = 1000
  ) {}

  start (): void {
    const begin = setTimeout(() => {
      this.draw()
      this.timer = setInterval(() => this.draw(), this.intervalMs)
      this.timer.unref()
    }, this.delayMs)
    begin.unref()
    this.timer = begin
  }

  /** Wipes the line before someone else writes to stderr; the next tick draws it again. */
  clear (): void {
    if (!this.drawn) return
    this.write('\r\x1b[K')
    this.drawn = false
  }

  /** Stops; a line that was shown stays, with the final numbers. */
  done (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); clearInterval(this.timer) }
    this.timer = undefined
    if (this.shown) this.write(`\r\x1b[K${this.text()}\n`)
    this.drawn = false
  }

  private draw (): void {
    // The cursor goes back to column 0: a line another writer puts on stderr (the console channel)
    // overwrites the progress line instead of being glued to its end.
    this.write(`\r\x1b[K${this.text()}\r`)
    this.shown = true
    this.drawn = true
  }
}
