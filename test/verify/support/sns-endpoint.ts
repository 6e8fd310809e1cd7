import { type HttpEndpoint, startHttpEndpoint } from './http-endpoint';
import { queryError, queryParams, queryResult } from './query-protocol';

const NAMESPACE = 'http://sns.amazonaws.com/doc/2010-03-31/';

/** SNS Publish over the query protocol: messages to the topics the test creates are kept. */
export interface SnsEndpoint extends HttpEndpoint {
  topics: Set<string>;
  published: { TopicArn: string; Subject: string | null; Message: string }[];
}

export async function startSnsEndpoint(): Promise<SnsEndpoint> {
  const topics = new Set<string>();
  const published: SnsEndpoint['published'] = [];
  const endpoint = await startHttpEndpoint((request) => {
    const params = queryParams(request);
    if (params.get('Action') !== 'Publish')
      return queryError(NAMESPACE, 400, 'InvalidAction', `unsupported action ${params.get('Action')}`);
    const TopicArn = params.get('TopicArn') ?? '';
    if (!topics.has(TopicArn)) return queryError(NAMESPACE, 404, 'NotFound', 'Topic does not exist');
    published.push({ TopicArn, Subject: params.get('Subject'), Message: params.get('Message') ?? '' });
    return queryResult('Publish', NAMESPACE, { MessageId: `local-message-${published.length}` });
  });
  return Object.assign(endpoint, { topics, published });
}
