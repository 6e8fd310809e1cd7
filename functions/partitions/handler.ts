import { createOperationHandler } from '../middleware/operation-handler';

/** Lambda entry of `partitions`: see createOperationHandler for the middleware chain. */
export const handler = createOperationHandler('partitions');
