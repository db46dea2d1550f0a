/**
 * The one error type our own code throws: an HTTP status, a stable snake_case code that is sent,
 * a message fit for the user, and an internal detail that is logged but never sent.
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly userMessage: string,
    readonly detail?: string,
  ) {
    super(detail ?? userMessage);
  }
}
