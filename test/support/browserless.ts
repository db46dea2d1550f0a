/**
 * A minimal cookie-keeping HTTP user agent for driving the sign-in pages without a browser:
 * follows redirects on the issuer's origin, stops at the first redirect elsewhere (the client's
 * redirect_uri) and returns it.
 */
export class UserAgent {
  private cookies = new Map<string, string>();

  constructor(private readonly origin: string) {}

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** GETs url and follows same-origin redirects; returns the final response and its URL. */
  async follow(url: string): Promise<{ res: Response; url: string }> {
    let current = url;
    for (let i = 0; i < 10; i += 1) {
      const res = await this.request(current);
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return { res, url: current };
      const next = new URL(location, current).href;
      if (new URL(next).origin !== this.origin) return { res, url: next };
      current = next;
    }
    throw new Error('too many redirects');
  }

  /** POSTs a form and follows same-origin redirects. */
  async submit(action: string, fields: Record<string, string>): Promise<{ res: Response; url: string }> {
    const res = await this.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, action).href;
      if (new URL(next).origin !== this.origin) return { res, url: next };
      return this.follow(next);
    }
    return { res, url: action };
  }
}

/** Reads `<input name=… value=…>` and the form action out of a page. */
export function readForm(html: string, index = 0): { action: string; fields: Record<string, string> } {
  const forms = [...html.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
  const form = forms[index];
  if (!form) throw new Error(`no form #${index} in page:\n${html.slice(0, 2000)}`);
  const fields: Record<string, string> = {};
  for (const input of form[2]!.matchAll(/<input[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
    if (name) fields[name] = decodeEntities(value);
  }
  return { action: decodeEntities(form[1]!), fields };
}

/** The submit buttons of form #index in a page: name, value and label of each. */
export function readButtons(html: string, index = 0): { name?: string; value?: string; label: string }[] {
  const forms = [...html.matchAll(/<form[^>]*>([\s\S]*?)<\/form>/g)];
  const form = forms[index];
  if (!form) throw new Error(`no form #${index} in page:\n${html.slice(0, 2000)}`);
  return [...form[1]!.matchAll(/<button([^>]*)>([\s\S]*?)<\/button>/g)]
    .filter(([, attributes]) => !/type="(button|reset)"/.test(attributes!))
    .map(([, attributes, label]) => {
      const name = /name="([^"]*)"/.exec(attributes!)?.[1];
      const value = /value="([^"]*)"/.exec(attributes!)?.[1];
      return {
        ...(name !== undefined ? { name: decodeEntities(name) } : {}),
        ...(value !== undefined ? { value: decodeEntities(value) } : {}),
        label: decodeEntities(label!.trim()),
      };
    });
}

function decodeEntities(s: string): string {
  return s
    .replace(/&#x2F;/g, '/')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/**
 * Runs the sign-in (and, when asked, consent) pages for an authorization URL and returns the
 * URL the browser would be sent to at the client.
 */
export async function signIn(
  ua: UserAgent,
  authorizationUrl: string,
  user: { username: string; password: string },
  options: {
    consent?: 'allow' | 'deny';
    method?: 'GET' | 'POST';
    /** Answers the second-factor page (`input[name=otp]`), when it comes. */
    otp?: () => string;
  } = { consent: 'allow' },
): Promise<URL> {
  // POST: the authorization request as a form post (OpenID Connect Core §3.1.2.1).
  const posted = new URL(authorizationUrl);
  let { res, url } =
    options.method === 'POST'
      ? await ua.submit(`${posted.origin}${posted.pathname}`, Object.fromEntries(posted.searchParams))
      : await ua.follow(authorizationUrl);
  for (let step = 0; step < 4; step += 1) {
    if (res.status >= 300 && res.status < 400) return new URL(url);
    const html = await res.text();
    if (/name="password"/.test(html)) {
      const { action, fields } = readForm(html, 0);
      ({ res, url } = await ua.submit(new URL(action, url).href, { ...fields, ...user }));
    } else if (/name="otp"/.test(html) && options.otp) {
      const { action, fields } = readForm(html, 0);
      ({ res, url } = await ua.submit(new URL(action, url).href, { ...fields, otp: options.otp() }));
    } else if (/Allow access/.test(html)) {
      const { action, fields } = readForm(html, options.consent === 'deny' ? 1 : 0);
      ({ res, url } = await ua.submit(new URL(action, url).href, fields));
    } else {
      throw new Error(`unexpected page (${res.status}) at ${url}:\n${html.slice(0, 1500)}`);
    }
  }
  throw new Error('sign-in did not finish');
}
