import { readFileSync } from 'node:fs';
import { AWS_EXCEPTIONS, awsExceptionFor } from '../../src/aws/errors.js';

const model = JSON.parse(
  readFileSync(new URL('../fixtures/aws-sso-oidc-2019-06-10.service-2.json', import.meta.url), 'utf8'),
) as { shapes: Record<string, { exception?: boolean; error?: { httpStatusCode: number } }> };

describe('AWS error table', () => {
  it.each(Object.entries(AWS_EXCEPTIONS))(
    'maps %s to %o as the service model defines it',
    (code, exception) => {
      const shape = model.shapes[exception.name];
      expect(shape?.exception).toBe(true);
      expect(shape?.error?.httpStatusCode).toBe(exception.status);
      expect(awsExceptionFor(code)).toEqual({ ...exception, error: code });
    },
  );

  it.each([
    ['invalid_target', 'InvalidScopeException', 400],
    ['invalid_token', 'InvalidGrantException', 400],
    ['unsupported_response_type', 'InvalidRequestException', 400],
    ['something_new', 'InternalServerException', 500],
  ])('maps %s, which has no exception of its own, to %s', (code, name, status) => {
    expect(awsExceptionFor(code)).toMatchObject({ name, status });
  });

  it('covers every exception of the model except the region one', () => {
    const modelled = Object.entries(model.shapes)
      .filter(([, s]) => s.exception)
      .map(([name]) => name)
      .filter((name) => name !== 'InvalidRequestRegionException');
    const mapped = new Set<string>(Object.values(AWS_EXCEPTIONS).map((e) => e.name));
    expect(modelled.filter((name) => !mapped.has(name))).toEqual([]);
  });
});
