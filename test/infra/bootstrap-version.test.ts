import { afterAll, describe, expect, it } from 'vitest';
import { MIN_BOOTSTRAP_VERSION } from '../../infra/verify/preflight-bootstrap-step';
import { type Synthesized, synthesize } from '../support/infra';

let synthesized: Synthesized | undefined;
afterAll(() => synthesized?.cleanup());

describe('the bootstrap version verify --preflight asks for', () => {
  it("is the first one the stack template's CheckBootstrapVersion rule accepts", () => {
    synthesized = synthesize();
    const rule = synthesized.template.toJSON().Rules.CheckBootstrapVersion;
    const refused = [...JSON.stringify(rule.Assertions).matchAll(/"(\d+)"/g)].map((match) => Number(match[1]));
    expect(refused.length).toBeGreaterThan(0);
    expect(Math.max(...refused) + 1).toBe(MIN_BOOTSTRAP_VERSION);
  });
});
