import type { Template } from 'aws-cdk-lib/assertions';

type Resources = Record<string, { Type: string; Properties?: unknown; DependsOn?: string | string[] }>;

/** The logical ids a value refers to: Ref and Fn::GetAtt, at any depth (pseudo parameters left out). */
function referencesIn(value: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) referencesIn(item, into);
  } else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' && typeof inner === 'string' && !inner.startsWith('AWS::')) into.add(inner);
      else if (key === 'Fn::GetAtt' && Array.isArray(inner) && typeof inner[0] === 'string') into.add(inner[0]);
      else referencesIn(inner, into);
    }
  }
  return into;
}

/**
 * Every resource CloudFormation must create before `logicalId`: its DependsOn and the resources
 * its properties reference, and theirs in turn. This is the order CloudFormation honours, so a
 * test can ask "is X there before Y starts" without caring whether CDK wrote it as DependsOn.
 */
export function createdBefore(template: Template, logicalId: string): Set<string> {
  const resources = template.toJSON().Resources as Resources;
  const seen = new Set<string>();
  const pending = [logicalId];
  while (pending.length > 0) {
    const resource = resources[pending.pop() as string];
    if (!resource) continue;
    const direct = referencesIn(resource.Properties, new Set([resource.DependsOn ?? []].flat()));
    for (const id of direct) {
      if (seen.has(id) || !resources[id]) continue;
      seen.add(id);
      pending.push(id);
    }
  }
  return seen;
}

/** The logical ids of every resource of a type. */
export function idsOfType(template: Template, type: string): string[] {
  return Object.keys(template.findResources(type));
}
