import { setEnv } from '../../support/handlers';
import { type CloudFormationEndpoint, startCloudFormationEndpoint } from './cloudformation-endpoint';
import { type CloudWatchEndpoint, startCloudWatchEndpoint } from './cloudwatch-endpoint';
import { type LambdaEndpoint, startLambdaEndpoint } from './lambda-endpoint';
import { type SnsEndpoint, startSnsEndpoint } from './sns-endpoint';

/** The four local endpoints, with the SDK of this process pointed at them. */
export interface LocalAws {
  cloudformation: CloudFormationEndpoint;
  lambda: LambdaEndpoint;
  cloudwatch: CloudWatchEndpoint;
  sns: SnsEndpoint;
  /** Stops the endpoints and restores the environment. */
  release(): Promise<void>;
}

/** Environment that points the SDK somewhere, signing with made-up credentials (nothing leaves the machine). */
export function sdkEnvironment(urls: { cloudformation: string; lambda: string; cloudwatch: string; sns: string }) {
  return {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDLOCALTEST',
    AWS_SECRET_ACCESS_KEY: 'local-test-secret-key',
    AWS_PROFILE: undefined,
    // The SDK warns once per process that its 2027 releases need Node 22; tests stay quiet.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_ENDPOINT_URL_CLOUDFORMATION: urls.cloudformation,
    AWS_ENDPOINT_URL_LAMBDA: urls.lambda,
    AWS_ENDPOINT_URL_CLOUDWATCH: urls.cloudwatch,
    AWS_ENDPOINT_URL_SNS: urls.sns,
  };
}

/**
 * Starts local CloudFormation, Lambda, CloudWatch and SNS endpoints and points the real SDK at
 * them (AWS_ENDPOINT_URL_<SERVICE>). The Lambda endpoint's runs feed their EMF to CloudWatch, as
 * the Lambda service does through the function's log.
 */
export async function useLocalAws(): Promise<LocalAws> {
  const cloudwatch = await startCloudWatchEndpoint();
  const [cloudformation, lambda, sns] = await Promise.all([
    startCloudFormationEndpoint(),
    startLambdaEndpoint((documents) => cloudwatch.putEmf(documents)),
    startSnsEndpoint(),
  ]);
  const saved = setEnv(
    sdkEnvironment({ cloudformation: cloudformation.url, lambda: lambda.url, cloudwatch: cloudwatch.url, sns: sns.url }),
  );
  return {
    cloudformation,
    lambda,
    cloudwatch,
    sns,
    async release() {
      await Promise.all([cloudformation.close(), lambda.close(), cloudwatch.close(), sns.close()]);
      setEnv(saved);
    },
  };
}
