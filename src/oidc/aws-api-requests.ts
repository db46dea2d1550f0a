import { AsyncLocalStorage } from 'node:async_hooks';

const awsApiRequest = new AsyncLocalStorage<true>();

/**
 * Runs `send` (the AWS API's in-process request to the provider, aws/delegate.ts) marked as an
 * AWS API request, so the provider middleware can apply the AWS API's rules to it: the device
 * polling interval AWS advertises (device-flow.ts), the case-naming `error_description` of
 * InvalidGrantException (grant-error-details.ts) and AWS's access-token lifetimes
 * (provider-config.ts). The mark lives in the async context of the call: no request header, so
 * nothing that reaches the standard endpoints from outside can claim it.
 */
export function runAsAwsApiRequest<T>(send: () => Promise<T>): Promise<T> {
  return awsApiRequest.run(true, send);
}

/** Whether the current request is the AWS API's (see runAsAwsApiRequest). */
export function isAwsApiRequest(): boolean {
  return awsApiRequest.getStore() === true;
}
