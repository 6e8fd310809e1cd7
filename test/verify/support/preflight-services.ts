import type { Reply, SeenRequest } from './http-endpoint';
import { jsonBody, jsonError, jsonOperation, jsonResult } from './json-protocol';
import { DEFAULT_QUOTAS, type PreflightAccount } from './preflight-account';
import { queryError, queryParams, queryResult, toXml } from './query-protocol';

/** How each service answers the preflight's calls, from the account the test set. */

const RDS_NAMESPACE = 'http://rds.amazonaws.com/doc/2014-10-31/';
const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const RDS_MEMBERS = { DBEngineVersions: 'DBEngineVersion', OrderableDBInstanceOptions: 'OrderableDBInstanceOption' };
const EC2_MEMBERS = { vpcSet: 'item', vpcEndpointSet: 'item' };

/** The Free Tier API, SSM and Service Quotas (JSON protocols). */
export function answerJson(account: PreflightAccount, request: SeenRequest): Reply {
  const operation = jsonOperation(request) ?? '';
  if (account.denied.has(operation)) return jsonError(400, 'AccessDeniedException', `not authorized to perform ${operation}`);
  const body = jsonBody(request);
  if (operation === 'GetAccountPlanState') return jsonResult({ accountId: '123456789012', ...account.plan });
  if (operation === 'GetParameter') {
    const value = account.parameters.get(String(body.Name));
    if (value === undefined) return jsonError(400, 'ParameterNotFound', '');
    return jsonResult({ Parameter: { Name: body.Name, Type: 'String', Value: value, Version: 1 } });
  }
  const key = `${body.ServiceCode}/${body.QuotaCode}`;
  const value = operation === 'GetServiceQuota' ? account.appliedQuotas.get(key) : DEFAULT_QUOTAS[key];
  if (value === undefined) return jsonError(400, 'NoSuchResourceException', `no quota ${key}`);
  if (operation.endsWith('ServiceQuota'))
    return jsonResult({ Quota: { ServiceCode: body.ServiceCode, QuotaCode: body.QuotaCode, Value: value } });
  return jsonError(400, 'UnknownOperationException', `unsupported ${operation}`);
}

/** Lambda's GetAccountSettings (REST JSON). */
export function answerLambda(account: PreflightAccount): Reply {
  if (account.denied.has('GetAccountSettings')) {
    return { status: 403, headers: { 'x-amzn-errortype': 'AccessDeniedException' }, body: JSON.stringify({ Message: 'denied' }) };
  }
  return jsonResult({ AccountLimit: account.lambda, AccountUsage: { FunctionCount: 0 } });
}

/** RDS's DescribeDBEngineVersions and DescribeOrderableDBInstanceOptions (query protocol). */
export function answerRds(account: PreflightAccount, params: URLSearchParams): Reply {
  const action = params.get('Action') ?? '';
  if (account.denied.has(action)) return queryError(RDS_NAMESPACE, 403, 'AccessDenied', `not authorized to perform rds:${action}`);
  const [engine, version] = [params.get('Engine'), params.get('EngineVersion')];
  if (action === 'DescribeDBEngineVersions') {
    const defaultOnly = params.get('DefaultOnly') === 'true';
    const found = account.engineVersions.filter(
      (v) => v.engine === engine && (defaultOnly ? v.isDefault && v.version.split('.')[0] === version : !version || v.version === version),
    );
    const DBEngineVersions = found.map((v) => ({ Engine: v.engine, EngineVersion: v.version }));
    return queryResult(action, RDS_NAMESPACE, { DBEngineVersions }, RDS_MEMBERS);
  }
  const instanceClass = params.get('DBInstanceClass');
  const options = account.orderable.filter(
    (o) => o.engine === engine && o.version === version && (!instanceClass || o.instanceClass === instanceClass),
  );
  const OrderableDBInstanceOptions = options.map((o) => ({
    Engine: o.engine,
    EngineVersion: o.version,
    DBInstanceClass: o.instanceClass,
    StorageType: o.storageType,
    MultiAZCapable: o.multiAz ?? false,
  }));
  return queryResult(action, RDS_NAMESPACE, { OrderableDBInstanceOptions }, RDS_MEMBERS);
}

/** EC2's `Filter.N.Name` / `Filter.N.Value.M` parameters. */
function ec2Filters(params: URLSearchParams): Map<string, string[]> {
  const filters = new Map<string, string[]>();
  for (let n = 1; params.has(`Filter.${n}.Name`); n++) {
    const values = [...params.entries()].filter(([key]) => key.startsWith(`Filter.${n}.Value.`)).map(([, value]) => value);
    filters.set(params.get(`Filter.${n}.Name`) as string, values);
  }
  return filters;
}

/** EC2's DescribeVpcs and DescribeVpcEndpoints (EC2's own query protocol: no Result element, `item` lists). */
export function answerEc2(account: PreflightAccount, params: URLSearchParams): Reply {
  const action = params.get('Action') ?? '';
  const xml = (body: string) => ({ status: 403, headers: { 'content-type': 'text/xml' }, body });
  if (account.denied.has(action)) {
    return xml(
      `<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>local-1</RequestID></Response>`,
    );
  }
  const filters = ec2Filters(params);
  const matches = (name: string, value: string) => !filters.has(name) || (filters.get(name) ?? []).includes(value);
  const items =
    action === 'DescribeVpcs'
      ? { vpcSet: account.vpcs.filter((id) => matches('vpc-id', id)).map((vpcId) => ({ vpcId, state: 'available' })) }
      : {
          vpcEndpointSet: account.endpoints
            .filter((e) => matches('vpc-id', e.vpcId) && matches('vpc-endpoint-type', e.type))
            .map((e) => ({ vpcEndpointId: e.id, vpcEndpointType: e.type, vpcId: e.vpcId, state: e.state ?? 'available' })),
        };
  return {
    status: 200,
    headers: { 'content-type': 'text/xml' },
    body: `<${action}Response xmlns="${EC2_NAMESPACE}"><requestId>local-1</requestId>${toXml(items, EC2_MEMBERS)}</${action}Response>`,
  };
}

/** Which service a request is for: the JSON target, Lambda's path, or the query protocol's Version. */
export function answerPreflight(account: PreflightAccount, request: SeenRequest): Reply {
  if (request.headers['x-amz-target']) return answerJson(account, request);
  if (request.path.startsWith('/2016-08-19/account-settings')) return answerLambda(account);
  const params = queryParams(request);
  if (params.get('Version') === '2014-10-31') return answerRds(account, params);
  if (params.get('Version') === '2016-11-15') return answerEc2(account, params);
  return { status: 400, body: `unsupported ${request.method} ${request.path} ${request.body}` };
}
