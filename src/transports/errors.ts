/** Refusal to start serving (unsafe exposure, bad address, port in use). No socket is left listening. */
export class HttpStartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpStartupError';
  }
}
