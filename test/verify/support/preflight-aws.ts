import { setEnv } from '../../support/handlers';
import { type CloudFormationEndpoint, startCloudFormationEndpoint } from './cloudformation-endpoint';
import { type HttpEndpoint, startHttpEndpoint } from './http-endpoint';
import { type PreflightAccount, paidAccount } from './preflight-account';
import { answerPreflight } from './preflight-services';

/** Local endpoints for every service the preflight calls, with the SDK of this process pointed at them. */
export interface PreflightAws {
  /** What the services report; a test changes it, `reset()` restores the paid defaults. */
  account: PreflightAccount;
  /** CloudFormation (the CDKToolkit stack goes in `stacks`). */
  cloudformation: CloudFormationEndpoint;
  /** Lambda, RDS, EC2, SSM, Service Quotas and the Free Tier API, told apart by their protocols. */
  services: HttpEndpoint;
  reset(): void;
  release(): Promise<void>;
}

/** The toolkit stack `cdk bootstrap` leaves. */
export const TOOLKIT_STACK = { StackName: 'CDKToolkit', StackStatus: 'UPDATE_COMPLETE', Outputs: { BootstrapVersion: '30' } };

/**
 * Starts the endpoints and points the real SDK clients at them through AWS_ENDPOINT_URL_<SERVICE>
 * (the Free Tier call reads AWS_ENDPOINT_URL_FREETIER the same way), signing with made-up
 * credentials: nothing leaves the machine.
 */
export async function usePreflightAws(): Promise<PreflightAws> {
  const state = { account: paidAccount() };
  const [cloudformation, services] = await Promise.all([
    startCloudFormationEndpoint(),
    startHttpEndpoint((request) => answerPreflight(state.account, request)),
  ]);
  const saved = setEnv({
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDLOCALTEST',
    AWS_SECRET_ACCESS_KEY: 'local-test-secret-key',
    AWS_PROFILE: undefined,
    AWS_ENDPOINT_URL: undefined,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_ENDPOINT_URL_CLOUDFORMATION: cloudformation.url,
    ...Object.fromEntries(
      ['LAMBDA', 'RDS', 'EC2', 'SSM', 'SERVICE_QUOTAS', 'FREETIER'].map((id) => [`AWS_ENDPOINT_URL_${id}`, services.url]),
    ),
  });
  const aws: PreflightAws = {
    get account() {
      return state.account;
    },
    set account(account) {
      state.account = account;
    },
    cloudformation,
    services,
    reset() {
      state.account = paidAccount();
      cloudformation.stacks.clear();
      cloudformation.stacks.set(TOOLKIT_STACK.StackName, { ...TOOLKIT_STACK });
      cloudformation.requests.length = 0;
      services.requests.length = 0;
    },
    async release() {
      await Promise.all([cloudformation.close(), services.close()]);
      setEnv(saved);
    },
  };
  aws.reset();
  return aws;
}
