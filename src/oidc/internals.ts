/**
 * The one module that depends on details of oidc-provider beyond its documented API.
 * Keep every such dependency here, typed, so an upgrade has one place to check.
 */

/**
 * Reads a hidden input's value out of a form that oidc-provider hands to a page source
 * (`userCodeInputSource`, `userCodeConfirmSource`, `logoutSource`). We render our own forms
 * from views/, and need the anti-CSRF `xsrf` value oidc-provider generated for them.
 */
export function hiddenFieldValue(formHtml: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(formHtml);
  return match?.[1] ?? '';
}

/** Error names oidc-provider passes to userCodeInputSource when it re-renders the input page. */
export const USER_CODE_ERRORS = {
  NoCodeError: 'Enter the code shown on your device.',
  NotFoundError: 'That code is not valid. Check the code on your device and try again.',
  ExpiredError: 'That code has expired. Start again on your device to get a new code.',
  AlreadyUsedError: 'That code has already been used. Start again on your device to get a new code.',
  AbortedError: 'The sign-in request was cancelled.',
} as const satisfies Record<string, string>;

/** Reads the `action` of the form oidc-provider hands to a page source. */
export function formAction(formHtml: string, fallback: string): string {
  return /action="([^"]*)"/.exec(formHtml)?.[1] ?? fallback;
}
