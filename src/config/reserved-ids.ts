/** The client id of the account page's built-in client (src/oidc/account-client.ts): never configurable. */
export const ACCOUNT_CLIENT_ID = 'gatehouse-account';
