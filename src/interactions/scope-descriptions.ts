const DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are (your account identifier)',
  profile: 'See your name and basic profile',
  email: 'See your email address',
  address: 'See your postal address',
  phone: 'See your phone number',
  offline_access: 'Stay connected when you are not using it',
};

/** The consent page's wording for each scope; unknown scopes are shown as they are. */
export function describeScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes)].map((scope) => DESCRIPTIONS[scope] ?? `Use "${scope}"`);
}
