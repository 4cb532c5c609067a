/**
 * Errors of the unit-set registry and the loader that a caller (the server, the CLI) can act on; the server maps
 * them to HTTP statuses (src/vis/service.ts re-exports them with the service's own). A malformed name is
 * names.ts' UnitNameError (400), an empty prompt prompt.ts' PromptError (400).
 */

/** An unknown unit set or model, or a unit index out of range (HTTP 404). */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** A valid request that cannot be served here (no model or SAE weights for a prompt, …) (HTTP 409). */
export class UnavailableError extends Error {
  override name = "UnavailableError";
}

/** A request over a size limit, e.g. a prompt longer than the model's context (HTTP 413). */
export class TooLargeError extends Error {
  override name = "TooLargeError";
}
